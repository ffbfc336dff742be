// W6's takeover time: a leader supervisor in a child process (the failover trials' node,
// test/reliability/failover-node.ts, started by failover-cluster.ts) holding a store of leased
// tasks, a standby in this process, the leader SIGKILLed, and the time from the kill until the
// standby leads (`ready`) and a heartbeat on one of the re-armed leases is acknowledged.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSupervisor, postgresStore, type Lease } from '../src/index.js';
import { freePort } from '../test/free-port.js';
import { bundleNode, removeBundle, startNode, waitFor } from '../test/reliability/failover-cluster.js';
import { POSTGRES_URL_ENV } from '../test/reliability/postgres-kind.js';
import { percentile } from './stats.js';

/** One TTL measured `samples` times. */
export interface TakeoverConfig {
  ownershipTtlMs: number;
  samples: number;
}

export interface TakeoverResult {
  ownershipTtlMs: number;
  /** Leased tasks the leader held, re-armed by the standby when it took over. */
  leasedTasks: number;
  /** Per sample: ms from the SIGKILL until `ready`, and until the first heartbeat was acknowledged. */
  readyMs: number[];
  firstAckMs: number[];
  p50Ms: number;
  maxMs: number;
  /** The target a takeover is held to: the TTL plus 2 s. */
  targetMs: number;
  p50VsTarget: number;
  maxVsTarget: number;
}

const LEASED_TASKS = 100;
/** Leases that outlive every sample: the standby finds them still held. */
const LEASE_MS = 10 * 60_000;
const SLACK_MS = 2_000;

/** One sample in a fresh schema (dropped by the caller's `drop`). */
async function sample(url: string, ownershipTtlMs: number, dir: string, index: number): Promise<{ readyMs: number; firstAckMs: number; schema: string }> {
  const schema = `w6_takeover_${randomBytes(5).toString('hex')}`;
  const store = () => postgresStore({ connectionString: url, schema, ownershipTtlMs });
  // The leased tasks, written by a supervisor that then releases the store to the leader.
  const seeding = await createSupervisor({ store: store(), schedule: false });
  const leases: Lease[] = [];
  for (let i = 0; i < LEASED_TASKS; i++) {
    await seeding.create({ id: `t${i}` });
    leases.push(await seeding.claim(`t${i}`, { owner: `agent-${i % 8}`, leaseMs: LEASE_MS }));
  }
  await seeding.close();

  const leader = await startNode({
    name: `leader-${index}`,
    schema,
    port: await freePort(),
    ownershipTtlMs,
    adminToken: randomBytes(16).toString('hex'),
    tokensFile: join(dir, `tokens-${index}.json`),
  });
  let standby: Awaited<ReturnType<typeof createSupervisor>> | undefined;
  try {
    await waitFor(() => leader.leadingAt() !== undefined || !leader.alive(), 30_000, 'the leader to take the store');
    if (!leader.alive()) throw new Error(`the takeover leader ended: ${leader.stderr()}`);
    standby = await createSupervisor({ store: store(), standby: true, schedule: false });
    if (standby.role !== 'standby') throw new Error(`the standby is ${standby.role}, not standby`);
    const lease = leases[0]!;
    leader.child.kill('SIGKILL');
    const killed = performance.now();
    await standby.ready;
    const readyMs = performance.now() - killed;
    await standby.heartbeat(lease.taskId, { owner: lease.owner, epoch: lease.epoch });
    const firstAckMs = performance.now() - killed;
    if (standby.stats().byState.leased !== LEASED_TASKS) throw new Error(`the standby found ${standby.stats().byState.leased} leased tasks, not ${LEASED_TASKS}`);
    return { readyMs, firstAckMs, schema };
  } finally {
    if (leader.alive()) leader.child.kill('SIGKILL');
    await leader.exited;
    await standby?.close();
  }
}

/** Every TTL in turn, on the server at `url`; `drop` removes a sample's schema. */
export async function runTakeover(
  url: string,
  configs: readonly TakeoverConfig[],
  drop: (schema: string) => Promise<unknown>,
  progress: (line: string) => void,
): Promise<TakeoverResult[]> {
  // The node script reads the server's URL from the environment, as in the failover trials.
  process.env[POSTGRES_URL_ENV] = url;
  const dir = mkdtempSync(join(tmpdir(), 'leasehold-bench-takeover-'));
  const results: TakeoverResult[] = [];
  await bundleNode();
  try {
    for (const { ownershipTtlMs, samples } of configs) {
      const readyMs: number[] = [];
      const firstAckMs: number[] = [];
      for (let i = 0; i < samples; i++) {
        const one = await sample(url, ownershipTtlMs, dir, results.length * 100 + i);
        await drop(one.schema);
        readyMs.push(one.readyMs);
        firstAckMs.push(one.firstAckMs);
        progress(`  takeover, TTL ${ownershipTtlMs} ms, sample ${i + 1}/${samples}: ready ${one.readyMs.toFixed(0)} ms, first heartbeat acknowledged ${one.firstAckMs.toFixed(0)} ms`);
      }
      const p50Ms = percentile(firstAckMs, 50);
      const maxMs = percentile(firstAckMs, 100);
      const targetMs = ownershipTtlMs + SLACK_MS;
      results.push({ ownershipTtlMs, leasedTasks: LEASED_TASKS, readyMs, firstAckMs, p50Ms, maxMs, targetMs, p50VsTarget: p50Ms / targetMs, maxVsTarget: maxMs / targetMs });
    }
    return results;
  } finally {
    rmSync(dir, { recursive: true, force: true });
    removeBundle();
  }
}
