// kill -9 of the daemon mid-load (issue 13, "Demo, tests, bench"): the built CLI's
// `leasehold serve --store S --port 0` runs in a child process; agents with their own tokens
// (minted once through the admin route, kept in the tokens file) and the admin drive a bounded
// load through the client — create, claim-next, heartbeat, extend, add-compensation,
// complete, fail, release, annotate, quarantine, list — and the parent SIGKILLs the daemon at
// a seeded random moment, one to three times per trial, restarting it on the same store each
// time. After every restart, read through the restarted daemon:
// - every call answered 2xx is reflected (creates, claims' epochs, heartbeats' progress and
//   expiry, compensations, completes with their result, failures, releases, annotations,
//   quarantines);
// - every call that got no answer (UNAVAILABLE) is fully applied or not at all, wherever it
//   left a mark of its own to look for (a create's spec, a compensation's args, a complete's
//   result, a failure's message, an annotation's key);
// - epochs never go backwards (against every acknowledged claim and every answered list);
// - no task had two owners: every acknowledged lease held a task during an interval of its
//   own (server times), each later claim after the earlier lease ended or expired.
//
// In the postgres project (LEASEHOLD_TEST_STORE=postgres) the daemon serves a PostgreSQL store
// (`--store postgres://…#schema`, a schema per trial, on a fixed port with a 1 s ownership TTL):
// a restarted daemon starts as a standby and takes the store over once the killed one's TTL ran
// out; the checks wait (bounded) until /healthz says it leads.
//
// LEASEHOLD_DAEMON_KILL_TRIALS sets the number of trials (default 10, 4 on PostgreSQL);
// LEASEHOLD_SEED replays the kill moments and the load's choices (the daemon's own timing is
// the wall clock's).
// Needs the built CLI (`npm run build`).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { connect, type Client } from '../../src/client/index.js';
import { LeaseholdError, type Json, type Lease, type TaskView } from '../../src/index.js';
import { mintToken } from '../server/support.js';
import { freePort } from '../free-port.js';
import { dropStoreSchema, freshStoreSchema, POSTGRES_URL_ENV, postgresUrlFromEnv } from './postgres-kind.js';
import { countFromEnv, random, report, sameJson, seedFromEnv, tempDir, type Random } from './support.js';

const ON_POSTGRES = process.env.LEASEHOLD_TEST_STORE === 'postgres';
const TRIALS = countFromEnv('LEASEHOLD_DAEMON_KILL_TRIALS', ON_POSTGRES ? 4 : 10);
if (ON_POSTGRES) process.env[POSTGRES_URL_ENV] = inject('postgresUrl');
const SEED = seedFromEnv();
const BIN = join(import.meta.dirname, '..', '..', 'dist', 'src', 'cli', 'main.js');
const ADMIN = 'daemon-kill-admin-token-0123456789';
const AGENTS = ['agent-0', 'agent-1', 'agent-2', 'agent-3'];
/** Per generation, so a trial stays small and bounded whenever the kill lands. */
const MAX_TASKS = 25;
const MAX_CALLS_PER_LOOP = 300;
const TERMINAL = new Set(['completed', 'compensated', 'quarantined']);
const quiet = { warn: () => {} };

const children = new Set<ChildProcess>();
afterEach(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  children.clear();
});

beforeAll(() => {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run \`npm run build\` first`);
});

const totals = { trials: 0, kills: 0, acked: new Map<string, number>(), refused: 0, lost: 0, lostApplied: 0, lostNotApplied: 0, leases: 0 };
const started = Date.now();
afterAll(() => {
  report(
    `daemon kill -9 trials (seed ${SEED}, ${ON_POSTGRES ? 'PostgreSQL' : 'JSON'} store): ${totals.trials} trials, ${totals.kills} SIGKILLs of leasehold serve, ` +
      `${[...totals.acked.values()].reduce((a, b) => a + b, 0)} acknowledged HTTP calls reflected after restart ` +
      `(${[...totals.acked].map(([op, n]) => `${op} ${n}`).join(', ')}), ${totals.refused} refusals, ` +
      `${totals.lost} calls without an answer (${totals.lostApplied} seen fully applied, ${totals.lostNotApplied} seen not applied, the rest leave no mark of their own), ` +
      `${totals.leases} acknowledged leases never overlapping; ${Math.round((Date.now() - started) / 1000)} s`,
  );
});

describe('kill -9 of leasehold serve mid-load', () => {
  it(`${TRIALS} trials: every acknowledged HTTP call is reflected after the restart`, async () => {
    const failures: string[] = [];
    for (let i = 0; i < TRIALS; i++) {
      const seed = (SEED + i * 7919) >>> 0;
      try {
        await trial(seed);
      } catch (error) {
        failures.push(`trial ${i} (seed ${seed}): ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      }
    }
    expect(failures, `replay with LEASEHOLD_SEED=${SEED}`).toEqual([]);
  }, 300_000);
});

// ---------------------------------------------------------------------------------------
// the daemon

interface Daemon {
  child: ChildProcess;
  url: string;
  exited: Promise<unknown>;
}

/** Where a trial's daemons keep the store: a file, or a PostgreSQL schema served on a fixed port (its advertised URL). */
interface Place {
  store: string;
  serve: string[];
  /** Global options before the command. */
  global: string[];
  remove(): Promise<void>;
}

async function place(dir: string): Promise<Place> {
  if (!ON_POSTGRES) return { store: join(dir, 'store.json'), global: [], serve: ['--port', '0'], remove: () => Promise.resolve() };
  const schema = freshStoreSchema('dkill');
  return {
    store: `${postgresUrlFromEnv()}#${schema}`,
    // Its tokens and daemon file live in the state dir, which the restarted daemons share.
    global: ['--state-dir', join(dir, 'state')],
    serve: ['--port', String(await freePort()), '--ownership-ttl', '1000'],
    remove: () => dropStoreSchema(schema),
  };
}

/** Whether the daemon at `url` leads (a standby's /healthz says `role: 'standby'`). */
async function leads(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2_000) });
    const body = (await response.json()) as { ok?: boolean; role?: string };
    return response.ok && body.ok === true && body.role === undefined;
  } catch {
    return false;
  }
}

async function startDaemon(at: Place): Promise<Daemon> {
  const child = spawn(process.execPath, [BIN, '--store', at.store, '--wait', '10000', ...at.global, 'serve', ...at.serve], {
    env: { ...process.env, LEASEHOLD_ADMIN_TOKEN: ADMIN },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  let out = '';
  let err = '';
  child.stderr!.on('data', (chunk: Buffer) => void (err += chunk.toString()));
  const url = await new Promise<string | undefined>((resolve) => {
    const timer = setTimeout(() => resolve(undefined), 20_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const found = /leasehold listening on (http:\/\/\S+)[^\n]*\n/.exec(out)?.[1];
      if (found) {
        clearTimeout(timer);
        resolve(found);
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      resolve(undefined);
    });
  });
  if (!url) {
    child.kill('SIGKILL');
    throw new Error(`leasehold serve did not start: ${out}${err}`);
  }
  // On PostgreSQL a restarted daemon stands by until the killed one's ownership ran out.
  if (ON_POSTGRES) {
    let leading = false;
    for (const deadline = Date.now() + 20_000; !leading && Date.now() < deadline && child.exitCode === null; ) {
      leading = await leads(url);
      if (!leading) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    if (!leading) {
      child.kill('SIGKILL');
      throw new Error(`leasehold serve did not take the store over within 20 s: ${out}${err}`);
    }
  }
  return { child, url, exited };
}

// ---------------------------------------------------------------------------------------
// the load

type Outcome = { kind: 'ack'; value: unknown } | { kind: 'refused'; code: string } | { kind: 'lost' };
interface Call {
  g: number;
  op: string;
  task: string;
  owner?: string;
  input: Record<string, unknown>;
  outcome: Outcome;
}

/** What one trial saw: every call and its outcome, and every answered list, in order. */
interface Seen {
  calls: Call[];
  lists: TaskView[][];
}

async function trial(seed: number) {
  const r = random(seed);
  const folder = tempDir('daemon-kill');
  const at = await place(folder.dir);
  const seen: Seen = { calls: [], lists: [] };
  const kills = 1 + r.int(3);
  const tokens = new Map<string, string>();
  let daemon: Daemon | undefined;
  try {
    for (let g = 1; g <= kills; g++) {
      daemon = await startDaemon(at);
      if (g > 1) await checkAfterRestart(daemon.url, seen, `after kill ${g - 1}`);
      if (tokens.size === 0) for (const owner of AGENTS) tokens.set(owner, await mintToken(daemon.url, ADMIN, owner));
      await loadUntilKilled(daemon, tokens, seen, g, r.fork(g));
      totals.kills++;
    }
    daemon = await startDaemon(at);
    await checkAfterRestart(daemon.url, seen, `after kill ${kills}`);
    totals.trials++;
    for (const call of seen.calls) {
      if (call.outcome.kind === 'ack' && call.op !== 'list') totals.acked.set(call.op, (totals.acked.get(call.op) ?? 0) + 1);
      if (call.outcome.kind === 'refused') totals.refused++;
      if (call.outcome.kind === 'lost') totals.lost++;
    }
    totals.leases += seen.calls.filter((c) => c.outcome.kind === 'ack' && (c.op === 'claimNext' || c.op === 'claim') && c.outcome.value).length;
  } finally {
    daemon?.child.kill('SIGKILL');
    if (daemon) await daemon.exited;
    folder.remove();
    await at.remove();
  }
}

/** Runs the admin's and the agents' loops against `daemon` and SIGKILLs it at a seeded moment. */
async function loadUntilKilled(daemon: Daemon, tokens: Map<string, string>, seen: Seen, g: number, r: Random) {
  const options = { url: daemon.url, timeoutMs: 5_000, logger: quiet };
  const admin = connect({ ...options, token: ADMIN });
  const agents = AGENTS.map((owner) => ({ owner, client: connect({ ...options, token: tokens.get(owner)! }) }));
  let killed = false;
  const killAfter = r.between(20, 400);
  const timer = setTimeout(() => {
    killed = true;
    daemon.child.kill('SIGKILL');
  }, killAfter);
  let n = 0;
  const unique = () => `g${g}-${n++}`;

  /** One call, recorded with its outcome; refusals and lost answers are outcomes, anything else fails the trial. */
  const call = async <T>(op: string, task: string, owner: string | undefined, input: Record<string, unknown>, run: () => Promise<T>) => {
    let outcome: Outcome;
    try {
      outcome = { kind: 'ack', value: await run() };
    } catch (error) {
      if (!(error instanceof LeaseholdError)) throw error;
      outcome = error.code === 'UNAVAILABLE' ? { kind: 'lost' } : { kind: 'refused', code: error.code };
    }
    seen.calls.push({ g, op, task, ...(owner !== undefined && { owner }), input, outcome });
    return outcome.kind === 'ack' ? (outcome.value as T) : undefined;
  };

  const adminLoop = async (rr: Random) => {
    const created: string[] = [];
    for (let k = 0; k < MAX_CALLS_PER_LOOP && !killed; k++) {
      const roll = rr.next();
      if (created.length < MAX_TASKS && (roll < 0.5 || created.length < 4)) {
        const id = `t-${unique()}`;
        const input = { id, spec: { id }, priority: rr.pick(['low', 'medium', 'high'] as const) };
        if (await call('create', id, undefined, input, () => admin.create(input))) created.push(id);
      } else if (roll < 0.75 || created.length === 0) {
        const views = await call('list', '', undefined, {}, () => admin.list());
        if (views) seen.lists.push(views);
      } else if (roll < 0.95) {
        const id = rr.pick(created);
        const key = unique();
        await call('annotate', id, undefined, { key, value: k }, () => admin.annotate(id, { [key]: k }));
      } else {
        const id = rr.pick(created);
        const input = { reason: `poisoned ${unique()}` };
        await call('quarantine', id, undefined, input, () => admin.quarantine(id, input));
      }
      await new Promise((resolve) => setTimeout(resolve, rr.int(8)));
    }
  };

  const agentLoop = async (owner: string, client: Client, rr: Random) => {
    for (let k = 0; k < MAX_CALLS_PER_LOOP && !killed; ) {
      const leaseMs = rr.pick([150, 60_000]);
      const lease = await call('claimNext', '', owner, { leaseMs }, () => client.claimNext({ leaseMs }));
      k++;
      if (!lease) {
        await new Promise((resolve) => setTimeout(resolve, 5));
        continue;
      }
      const id = lease.taskId;
      const { epoch } = lease;
      let progress = 0;
      for (let steps = rr.int(4); steps > 0 && !killed; steps--, k++) {
        const roll = rr.next();
        if (roll < 0.4) {
          progress = Math.min(100, progress + 1 + rr.int(30));
          const input = { epoch, progress };
          await call('heartbeat', id, owner, input, () => client.heartbeat(id, input));
        } else if (roll < 0.6) {
          const input = { epoch, windowMs: rr.pick([50, 5_000]) };
          await call('extend', id, owner, input, () => client.extend(id, input));
        } else {
          const input = { epoch, action: 'undo', args: { token: unique() } };
          await call('addCompensation', id, owner, input, () => client.addCompensation(id, input));
        }
      }
      if (killed) break;
      const end = rr.next();
      if (end < 0.35) {
        const input = { epoch, result: { token: unique() } };
        await call('complete', id, owner, input, () => client.complete(id, input));
      } else if (end < 0.6) {
        const input = { epoch, error: `broke ${unique()}`, retryable: rr.chance(0.6) };
        await call('fail', id, owner, input, () => client.fail(id, input));
      } else if (end < 0.85) {
        const input = { epoch, reason: `handing back ${unique()}` };
        await call('release', id, owner, input, () => client.release(id, input));
      } // else: abandoned; the lease runs out
      k++;
    }
  };

  const watchdog = setTimeout(() => daemon.child.kill('SIGKILL'), 30_000);
  try {
    await Promise.all([adminLoop(r.fork(100)), ...agents.map(({ owner, client }, i) => agentLoop(owner, client, r.fork(i)))]);
    // A load that ran out of calls before the kill still ends with one.
    clearTimeout(timer);
    daemon.child.kill('SIGKILL');
    await daemon.exited;
  } finally {
    clearTimeout(timer);
    clearTimeout(watchdog);
    for (const client of [admin, ...agents.map((a) => a.client)]) await client.close();
  }
}

// ---------------------------------------------------------------------------------------
// checks

async function checkAfterRestart(url: string, seen: Seen, when: string) {
  const admin = connect({ url, token: ADMIN, timeoutMs: 10_000, logger: quiet });
  try {
    const views = await admin.list();
    const byId = new Map(views.map((v) => [v.id, v]));
    for (const call of seen.calls) {
      const where = `${when}: ${call.outcome.kind} ${call.op} ${JSON.stringify(call.input)} on ${call.task || '(next)'} by ${call.owner ?? 'admin'} (generation ${call.g})`;
      if (call.outcome.kind === 'ack') acknowledged(call, call.outcome.value, byId, where);
      if (call.outcome.kind === 'lost' && when.endsWith(`kill ${call.g}`)) {
        const applied = allOrNothing(call, byId.get(call.task), where);
        if (applied === true) totals.lostApplied++;
        if (applied === false) totals.lostNotApplied++;
      }
    }
    epochsNeverGoBack(seen, views, when);
    noTwoOwners(seen, when);
    seen.lists.push(views);
  } finally {
    await admin.close();
  }
}

const holds = (task: TaskView, epoch: number) => (task.state === 'leased' || task.state === 'stale') && task.lease?.epoch === epoch;

/** An acknowledged call's effect is in the restarted daemon's view. */
function acknowledged(call: Call, value: unknown, byId: Map<string, TaskView>, where: string) {
  const input = call.input as Record<string, Json> & { epoch: number };
  if (call.op === 'list') return;
  if (call.op === 'claimNext') {
    if (value === null) return;
    const lease = value as Lease;
    const task = byId.get(lease.taskId);
    if (!task) throw new Error(`${where}: task ${lease.taskId} is missing`);
    if (task.epoch < lease.epoch) throw new Error(`${where}: epoch ${task.epoch} is below the acknowledged ${lease.epoch}`);
    return;
  }
  const task = byId.get(call.task);
  if (!task) throw new Error(`${where}: the task is missing`);
  switch (call.op) {
    case 'create':
      if (!sameJson(task.spec, input.spec) || task.priority !== input.priority) throw new Error(`${where}: stored as ${JSON.stringify(task)}`);
      break;
    case 'heartbeat':
    case 'extend': {
      const lease = value as Lease;
      if (task.epoch < input.epoch) throw new Error(`${where}: epoch ${task.epoch} is below the acknowledged ${input.epoch}`);
      if (call.op === 'heartbeat' && task.progress < (input.progress as number)) throw new Error(`${where}: progress ${task.progress}`);
      if (task.lease?.epoch === input.epoch && task.lease.expiresAt < lease.expiresAt) {
        throw new Error(`${where}: expiry ${task.lease.expiresAt} is before the acknowledged ${lease.expiresAt}`);
      }
      break;
    }
    case 'addCompensation':
      if (!task.compensations.some((c) => sameJson(c.args, input.args) && c.action === input.action)) throw new Error(`${where}: not in the ledger`);
      break;
    case 'complete':
      if (task.state !== 'completed' || !sameJson(task.terminal?.result, input.result)) throw new Error(`${where}: the task is ${task.substate}`);
      break;
    case 'fail':
      if (!input.retryable && !['failed', 'compensated', 'quarantined'].includes(task.state)) throw new Error(`${where}: the task is ${task.substate}`);
      if (holds(task, input.epoch)) throw new Error(`${where}: the failed lease is still held`);
      break;
    case 'release':
      if (holds(task, input.epoch)) throw new Error(`${where}: the released lease is still held`);
      break;
    case 'annotate':
      if (!sameJson(task.metadata[input.key as string], input.value)) throw new Error(`${where}: metadata ${JSON.stringify(task.metadata)}`);
      break;
    case 'quarantine':
      if (task.state !== 'quarantined') throw new Error(`${where}: the task is ${task.substate}`);
      break;
  }
}

/**
 * A call that got no answer is either fully applied or not at all: true or false where its
 * own mark tells, undefined where it leaves none to look for (a claim, a renewal, a release).
 */
function allOrNothing(call: Call, task: TaskView | undefined, where: string): boolean | undefined {
  const input = call.input as Record<string, Json> & { epoch: number };
  switch (call.op) {
    case 'create':
      if (!task) return false;
      if (!sameJson(task.spec, input.spec) || task.priority !== input.priority) throw new Error(`${where}: half created: ${JSON.stringify(task)}`);
      return true;
    case 'addCompensation': {
      const entry = task!.compensations.find((c) => sameJson(c.args, input.args));
      if (!entry) return false;
      if (entry.action !== input.action || entry.owner !== call.owner || entry.epoch !== input.epoch) throw new Error(`${where}: half added: ${JSON.stringify(entry)}`);
      return true;
    }
    case 'complete':
      if (!sameJson(task!.terminal?.result, input.result)) return false;
      if (task!.state !== 'completed' || task!.terminal?.by !== call.owner || task!.lease !== null) throw new Error(`${where}: half completed: ${JSON.stringify(task)}`);
      return true;
    case 'fail': {
      const failure = task!.failure;
      if (!failure || failure.error !== input.error) return false;
      if (failure.epoch !== input.epoch || failure.owner !== call.owner || holds(task!, input.epoch)) {
        throw new Error(`${where}: half failed: ${JSON.stringify(task)}`);
      }
      return true;
    }
    case 'annotate':
      if (!(input.key as string in task!.metadata)) return false;
      if (!sameJson(task!.metadata[input.key as string], input.value)) throw new Error(`${where}: half annotated: ${JSON.stringify(task!.metadata)}`);
      return true;
    default:
      return undefined;
  }
}

/** Each task's epoch after the restart is at least every epoch acknowledged or read before it. */
function epochsNeverGoBack(seen: Seen, views: TaskView[], when: string) {
  const floor = new Map<string, number>();
  const raise = (id: string, epoch: number) => floor.set(id, Math.max(floor.get(id) ?? 0, epoch));
  for (const list of seen.lists) for (const task of list) raise(task.id, task.epoch);
  for (const call of seen.calls) {
    if (call.outcome.kind === 'ack' && call.op === 'claimNext' && call.outcome.value) raise((call.outcome.value as Lease).taskId, (call.outcome.value as Lease).epoch);
  }
  const byId = new Map(views.map((v) => [v.id, v]));
  for (const [id, epoch] of floor) {
    const task = byId.get(id);
    if (!task || task.epoch < epoch) throw new Error(`${when}: task ${id} went back to epoch ${task?.epoch} from ${epoch}`);
  }
  // Terminal tasks stay as they were in every answered read before.
  for (const list of seen.lists) {
    for (const before of list.filter((t) => TERMINAL.has(t.state))) {
      const task = byId.get(before.id)!;
      if (task.state !== before.state || !sameJson(task.terminal, before.terminal)) throw new Error(`${when}: terminal task ${before.id} changed: ${task.substate}`);
    }
  }
  for (const task of views) {
    if (task.lease && task.lease.epoch !== task.epoch) throw new Error(`${when}: task ${task.id} holds a lease of epoch ${task.lease.epoch} at epoch ${task.epoch}`);
  }
}

/**
 * No task had two owners: on each task, the acknowledged leases (server times) follow one
 * another — each claim after the last acknowledged renewal of every earlier lease, and after
 * that lease ended (an end call, answered or not) or ran out (its latest acknowledged expiry).
 */
function noTwoOwners(seen: Seen, when: string) {
  interface Held {
    epoch: number;
    owner: string;
    acquiredAt: number;
    lastSeenHeld: number;
    expiresAt: number;
    ended: boolean;
  }
  const byTask = new Map<string, Map<number, Held>>();
  const leaseOf = (call: Call): Lease | undefined =>
    call.outcome.kind === 'ack' && ['claimNext', 'heartbeat', 'extend'].includes(call.op) ? ((call.outcome.value as Lease | null) ?? undefined) : undefined;
  for (const call of seen.calls) {
    const lease = leaseOf(call);
    if (lease) {
      const leases = byTask.get(lease.taskId) ?? new Map<number, Held>();
      byTask.set(lease.taskId, leases);
      const held = leases.get(lease.epoch) ?? { epoch: lease.epoch, owner: lease.owner, acquiredAt: lease.acquiredAt, lastSeenHeld: 0, expiresAt: 0, ended: false };
      leases.set(lease.epoch, held);
      if (held.owner !== lease.owner || held.acquiredAt !== lease.acquiredAt) throw new Error(`${when}: task ${lease.taskId} epoch ${lease.epoch} granted twice: ${JSON.stringify([held, lease])}`);
      held.lastSeenHeld = Math.max(held.lastSeenHeld, lease.heartbeatAt, lease.acquiredAt);
      held.expiresAt = Math.max(held.expiresAt, lease.expiresAt);
    }
  }
  for (const call of seen.calls) {
    if (call.outcome.kind === 'refused' || !['complete', 'fail', 'release'].includes(call.op)) continue;
    const held = byTask.get(call.task)?.get((call.input as { epoch: number }).epoch);
    if (held) held.ended = true;
  }
  for (const [id, leases] of byTask) {
    const ordered = [...leases.values()].sort((a, b) => a.epoch - b.epoch);
    for (const [i, later] of ordered.entries()) {
      for (const earlier of ordered.slice(0, i)) {
        const overlap =
          later.acquiredAt < earlier.acquiredAt || later.acquiredAt < earlier.lastSeenHeld || (!earlier.ended && later.acquiredAt < earlier.expiresAt);
        if (overlap) throw new Error(`${when}: task ${id} had two owners: ${JSON.stringify(earlier)} and ${JSON.stringify(later)}`);
      }
    }
  }
}
