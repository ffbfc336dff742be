// The service users would otherwise run: BullMQ on a local Redis (see redis.ts). W1's shape as
// BullMQ's own calls: a job is taken (`worker.getNextJob(token)`: moved to active with a lock
// whose token is the taker's proof), its lock extended 3 times (`job.extendLock`), completed
// (`job.moveToCompleted`, without fetching the next job) — each call awaited and timed alone.
// Every owner is a Worker of its own (its own Redis connections), as 64 agent processes would
// be; locks last as long as W1's leases, so nothing stalls during a run. BullMQ 6 leaves the
// Redis client to the caller: ioredis instances are given to it (loaded from ESM, BullMQ could
// not load ioredis itself).
import { randomUUID } from 'node:crypto';
import { Queue, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { PRIORITIES } from '../machines/task.types.js';
import type { BenchTask } from './tasks.js';
import { drive, LEASE_MS, type LeaseApi, type W1Metrics } from './w1-throughput.js';

const QUEUE = 'w4';
const CHUNK = 1_000;

interface Taken {
  job: Job;
  token: string;
}

export async function runBullmq(port: number, tasks: readonly BenchTask[], owners: number): Promise<W1Metrics> {
  const clients: Redis[] = [];
  const connect = () => {
    // Workers block on their connections: BullMQ requires maxRetriesPerRequest null.
    const client = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: null });
    clients.push(client);
    return client;
  };
  const queue = new Queue(QUEUE, { connection: connect() });
  const workers = new Map<string, Worker>();
  try {
    // BullMQ priorities: 1 is the highest; leasehold's four map onto 1–4.
    for (let start = 0; start < tasks.length; start += CHUNK) {
      const chunk = tasks.slice(start, start + CHUNK);
      await queue.addBulk(chunk.map((task) => ({ name: 'task', data: task.spec, opts: { jobId: task.id, priority: PRIORITIES.indexOf(task.priority) + 1 } })));
    }
    for (let index = 0; index < owners; index++) {
      const worker = new Worker(QUEUE, null, { connection: connect(), autorun: false, lockDuration: LEASE_MS, skipStalledCheck: true, skipLockRenewal: true });
      await worker.waitUntilReady();
      workers.set(`owner-${index}`, worker);
    }
    const api: LeaseApi<Taken> = {
      claimNext: async (owner) => {
        const token = randomUUID();
        const job = (await workers.get(owner)!.getNextJob(token, { block: false })) as Job | undefined;
        return job === undefined ? null : { job, token };
      },
      // 1 when the lock was this token's and is extended (as a leasehold heartbeat is refused, a lost lock must not pass).
      heartbeat: async ({ job, token }, _owner, beat) => {
        if ((await job.extendLock(token, LEASE_MS + beat)) !== 1) throw new Error(`W4: job ${job.id} lost its lock`);
      },
      complete: ({ job, token }) => job.moveToCompleted({ ok: true }, token, false),
    };
    return await drive(api, owners, tasks.length);
  } finally {
    await Promise.all([...workers.values()].map((worker) => worker.close()));
    await queue.close();
    await Promise.all(clients.map((client) => client.quit()));
  }
}
