// Synchronous SQL for the harness's `bytes()` and `durable()`, which the persistence suites call
// without awaiting: a worker thread holds a connection and answers each query through a
// message port, while the test's thread blocks on Atomics.wait until the answer is there.
import { MessageChannel, receiveMessageOnPort, Worker } from 'node:worker_threads';

const WORKER = `
const { workerData, parentPort } = require('node:worker_threads');
const pg = require('pg');
const { url, signal, port } = workerData;
const pool = new pg.Pool({ connectionString: url, max: 1 });
parentPort.on('message', async ({ query, params }) => {
  let answer;
  try {
    answer = { rows: (await pool.query(query, params)).rows };
  } catch (error) {
    answer = { error: String(error && error.message) };
  }
  port.postMessage(answer);
  Atomics.store(signal, 0, 1);
  Atomics.notify(signal, 0);
});
`;

/** Longest a synchronous query may take before the test fails instead of hanging. */
const TIMEOUT_MS = 10_000;

export function syncQuery(url: string) {
  const signal = new Int32Array(new SharedArrayBuffer(4));
  const { port1, port2 } = new MessageChannel();
  const worker = new Worker(WORKER, { eval: true, workerData: { url, signal, port: port2 }, transferList: [port2] });
  worker.unref();
  return {
    query<Row = Record<string, unknown>>(query: string, params: unknown[] = []): Row[] {
      Atomics.store(signal, 0, 0);
      worker.postMessage({ query, params });
      if (Atomics.wait(signal, 0, 0, TIMEOUT_MS) === 'timed-out') throw new Error(`no answer to ${query} within ${TIMEOUT_MS} ms`);
      const answer = receiveMessageOnPort(port1)?.message as { rows?: Row[]; error?: string } | undefined;
      if (!answer?.rows) throw new Error(`${query}: ${answer?.error ?? 'no answer'}`);
      return answer.rows;
    },
    close: () => worker.terminate(),
  };
}
