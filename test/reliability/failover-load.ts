// The load of the failover and pause trials, W1-style through the client: the admin creates
// tasks, agents (each with its own token) fetch one (claimNext), heartbeat three times and
// complete it, now and then abandoning a short lease so that it expires and is reclaimed —
// across takeovers too. Every call is recorded with its send and answer times and its outcome
// (failover-history.ts); a call without an answer (UNAVAILABLE) is recorded as lost and the
// agent moves on. Bounded: it stops when told, or after a fixed number of calls per loop.
import { connect, type Client } from '../../src/client/index.js';
import { LeaseholdError, type Lease } from '../../src/index.js';
import type { CallRecord, Op } from './failover-history.js';
import type { Random } from './support.js';

export interface LoadOptions {
  urls: string[];
  adminToken: string;
  /** owner → its agent token */
  agents: Map<string, string>;
  /** Task ids start with this (unique per trial). */
  prefix: string;
  maxTasks: number;
  /** A call is given up (lost) after this long without an answer: a paused leader does not hold a client forever. */
  timeoutMs: number;
  r: Random;
}

export interface Load {
  calls: CallRecord[];
  /** Stops every loop after its current call; resolves when all have stopped. */
  stop(): Promise<void>;
}

const MAX_CALLS_PER_LOOP = 5_000;

const reasonOf = (error: LeaseholdError) => (error as { reason?: string }).reason;

/** The client says whether a write it could not get answered was sent at all (src/client/transport.ts). */
const unavailable = (error: LeaseholdError): CallRecord['outcome'] => (error.message.includes('(the write was not sent)') ? { kind: 'unsent' } : { kind: 'lost' });
const quiet = { warn: () => {} };
const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function startLoad(options: LoadOptions): Load {
  const calls: CallRecord[] = [];
  let stopped = false;
  const clients: Client[] = [];
  const client = (token: string) => {
    const c = connect({ urls: options.urls, token, timeoutMs: options.timeoutMs, logger: quiet });
    clients.push(c);
    return c;
  };

  /** One call, recorded; refusals and lost answers are outcomes, anything else is thrown. */
  const call = async <T>(by: string, op: Op, task: string, input: CallRecord['input'], run: () => Promise<T>): Promise<T | undefined> => {
    const sentAt = Date.now();
    let outcome: CallRecord['outcome'];
    try {
      outcome = { kind: 'ack', value: await run() };
    } catch (error) {
      if (!(error instanceof LeaseholdError)) throw error;
      outcome = error.code === 'UNAVAILABLE' ? unavailable(error) : { kind: 'refused', code: error.code, ...(reasonOf(error) && { reason: reasonOf(error) }) };
    }
    calls.push({ by, op, task, input, sentAt, answeredAt: Date.now(), outcome });
    // No leader to answer (a takeover under way): a short pause before the next call.
    if (outcome.kind === 'lost' || outcome.kind === 'unsent') await pause(50);
    return outcome.kind === 'ack' ? (outcome.value as T) : undefined;
  };

  const admin = async (r: Random) => {
    const c = client(options.adminToken);
    for (let n = 0, k = 0; n < options.maxTasks && k < MAX_CALLS_PER_LOOP && !stopped; k++) {
      const id = `${options.prefix}-${n}`;
      const spec = { n, token: r.int(1_000_000) };
      // A create that got no answer may have landed: the next one uses a new id either way.
      await call('admin', 'create', id, { spec }, () => c.create({ id, spec }));
      n++;
      await pause(r.between(5, 25));
    }
  };

  const agent = async (owner: string, token: string, r: Random) => {
    const c = client(token);
    for (let k = 0; k < MAX_CALLS_PER_LOOP && !stopped; ) {
      const abandon = r.chance(0.15);
      const leaseMs = abandon ? 600 : 30_000;
      const lease = await call<Lease | null>(owner, 'claimNext', '', { leaseMs }, () => c.claimNext({ leaseMs }));
      k++;
      if (!lease) {
        await pause(15);
        continue;
      }
      if (abandon) continue;
      const { taskId: id, epoch } = lease;
      let held = true;
      for (let beat = 1; beat <= 3 && held && !stopped; beat++, k++) {
        await pause(r.between(5, 30));
        const progress = beat * 25;
        held = (await call(owner, 'heartbeat', id, { epoch, progress }, () => c.heartbeat(id, { epoch, progress }))) !== undefined;
      }
      if (!held || stopped) continue;
      const result = { by: owner, epoch, token: r.int(1_000_000) };
      await call(owner, 'complete', id, { epoch, result }, () => c.complete(id, { epoch, result }));
      k++;
    }
  };

  const loops = [admin(options.r.fork(0)), ...[...options.agents].map(([owner, token], i) => agent(owner, token, options.r.fork(i + 1)))];
  const done = Promise.all(loops);
  done.catch(() => {}); // surfaced by stop()
  return {
    calls,
    async stop() {
      stopped = true;
      try {
        await done;
      } finally {
        for (const c of clients) await c.close();
      }
    },
  };
}
