// The PostgreSQL job queue users would otherwise run: pg-boss 10, on the same server as
// leasehold's postgresStore, driven through W1's shape with its own calls: a job is taken with
// `boss.fetch(queue)` (one job, `FOR UPDATE SKIP LOCKED`, state → active), kept alive 3 times,
// completed with `boss.complete(queue, id, result)` — each call awaited and timed alone.
// pg-boss 10 has no per-job heartbeat: an active job fails once `started_on + expire_in` has
// passed, whatever its worker does. The keep-alive is therefore the one statement a user would
// add (through pg-boss's own connection pool, `getDb().executeSql`): push that deadline to
// now + lease for this job while it is active. Like `complete`, it names the job by id only:
// pg-boss has no token proving who holds a job, so neither call is fenced.
import PgBoss from 'pg-boss';
import { PRIORITIES } from '../machines/task.types.js';
import type { BenchTask } from './tasks.js';
import { drive, LEASE_MS, type LeaseApi, type W1Metrics } from './w1-throughput.js';

const QUEUE = 'w6';
const CHUNK = 1_000;

/** Pushes an active job's expiry to now + `ms`; `id` is returned when the job was still active. */
const touchSql = (schema: string) =>
  `UPDATE ${schema}.job SET expire_in = (now() - started_on) + $3 * interval '1 millisecond'
   WHERE name = $1 AND id = $2 AND state = 'active' RETURNING id`;

/**
 * pg-boss in its own schema on `url`, `owners` concurrent loops sharing one PgBoss instance (as
 * leasehold's owners share one supervisor), whose pool has a connection per owner so that no
 * call waits for a connection (with pg's default pool of 10, pg-boss ran W6 about a third slower). Maintenance, scheduling and polling workers are off: nothing
 * else runs during the measurement.
 */
export async function runPgBoss(url: string, schema: string, tasks: readonly BenchTask[], owners: number): Promise<W1Metrics> {
  const boss = new PgBoss({ connectionString: url, schema, max: owners, supervise: false, schedule: false, migrate: true });
  // An idle connection the server drops must not crash the run (the pool reconnects).
  boss.on('error', () => {});
  await boss.start();
  try {
    await boss.createQueue(QUEUE, { name: QUEUE, retryLimit: 0, expireInSeconds: LEASE_MS / 1000 });
    // pg-boss priorities: the higher number first; leasehold's four (highest first) map onto 4–1.
    for (let start = 0; start < tasks.length; start += CHUNK) {
      const chunk = tasks.slice(start, start + CHUNK);
      await boss.insert(
        chunk.map((task) => ({ name: QUEUE, data: { id: task.id, ...task.spec }, priority: PRIORITIES.length - PRIORITIES.indexOf(task.priority), retryLimit: 0, expireInSeconds: LEASE_MS / 1000 })),
      );
    }
    const db = boss.getDb();
    const touch = touchSql(schema);
    const api: LeaseApi<string> = {
      claimNext: async () => (await boss.fetch<BenchTask['spec']>(QUEUE))[0]?.id ?? null,
      // As a leasehold heartbeat or complete is refused, a job that is no longer active must not pass.
      heartbeat: async (id, _owner, beat) => {
        if ((await db.executeSql(touch, [QUEUE, id, LEASE_MS + beat])).rows.length !== 1) throw new Error(`W6: pg-boss job ${id} is no longer active`);
      },
      // Its typings say void; pg-boss 10 answers { jobs, requested, affected }.
      complete: async (id) => {
        const { affected } = (await boss.complete(QUEUE, id, { ok: true })) as unknown as { affected: number };
        if (affected !== 1) throw new Error(`W6: pg-boss job ${id} was not completed`);
      },
    };
    return await drive(api, owners, tasks.length);
  } finally {
    await boss.stop({ graceful: false, wait: true });
  }
}
