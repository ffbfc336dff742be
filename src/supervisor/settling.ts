// Waiting for in-flight work to come to rest: `settled` (every write durable and nothing moving,
// what the clock's settle and the tests wait for) and the wait at close for compensations
// already running, so their outcome reaches the ledger on disk.
import type { Clock, TimerHandle } from '../clock/clock.js';
import type { Logger } from '../logger.js';
import type { GroupCommit } from './group-commit.js';

/** Event-loop turns without progress after which a running compensation counts as waiting. */
const SETTLE_TURNS = 50;

/** The invoked work running now, as task-logic.ts tracks it. */
export interface InFlight {
  compensations: ReadonlySet<Promise<unknown>>;
  decisions: ReadonlySet<Promise<unknown>>;
}

/**
 * Resolves once every write is durable and nothing moves any more. With `awaitWork`,
 * running compensation handlers and extension probes are waited for to the end (a git
 * probe takes real time); without, only those that finish within a few event-loop turns,
 * so a test that holds one open can still move its clock.
 */
export async function settled(awaitWork: boolean, commit: GroupCommit, inFlight: InFlight, changes: () => number): Promise<void> {
  let seen = -1;
  const working = () => inFlight.compensations.size + inFlight.decisions.size > 0;
  for (let quiet = 0; quiet < (working() ? SETTLE_TURNS : 2); ) {
    const writing = !commit.idle;
    if (writing) await commit.durable().catch(() => {});
    // Invoked work waiting for a write that is backing off would wait for the clock itself.
    if (awaitWork && working() && !commit.backingOff) await Promise.allSettled([...inFlight.compensations, ...inFlight.decisions]);
    // Let promise-actor results reach their machines before looking again.
    await new Promise((resolve) => setImmediate(resolve));
    const now = changes();
    quiet = writing || now !== seen ? 0 : quiet + 1;
    seen = now;
  }
}

/**
 * Lets compensations already running finish and their outcome reach the ledger on disk, so
 * that the next supervisor never runs a succeeded one again; gives up after closeTimeoutMs
 * (on the injected clock), leaving the attempt recorded as running, to run again at next open.
 */
export async function finishRunningCompensations(
  { clock, commit, inFlight, logger }: { clock: Clock; commit: GroupCommit; inFlight: InFlight; logger: Logger },
  closeTimeoutMs: number,
): Promise<void> {
  // 0: the owner chose not to wait (the CLI, whose compensators never finish).
  if (inFlight.compensations.size === 0 || closeTimeoutMs === 0) return;
  let timer: TimerHandle | undefined;
  const expired = new Promise<'timeout'>((resolve) => (timer = clock.setTimeout(() => resolve('timeout'), closeTimeoutMs)));
  for (;;) {
    const running = [...inFlight.compensations];
    if (running.length === 0) break;
    const outcome = await Promise.race([Promise.allSettled(running), expired]);
    if (outcome === 'timeout') {
      logger.warn(`leasehold: close gave up after ${closeTimeoutMs} ms waiting for ${running.length} running compensation(s); they run again at the next open`);
      break;
    }
    // Their outcomes are steps that write the ledger.
    await commit.durable().catch(() => {});
  }
  if (timer !== undefined) clock.clearTimeout(timer);
}
