// Where a supervisor stands with a store another supervisor can take over (PostgreSQL): its
// role (standby, leader, closed), who leads while it waits, the end of its ownership (it closes
// and acknowledges nothing more), and the clock-skew gate that holds expiries back while its
// clock and the store's disagree by more than the bound.
import type { Clock, TimerHandle } from '../clock/clock.js';
import { NotLeaderError, StoreLockedError, SupervisorClosedError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Store, StoreHolder, StoreOwnership } from '../store/types.js';

/** `standby`: waiting to take the store over; `leader`: owns it and serves; `closed`: closed, or lost the store. */
export type SupervisorRole = 'standby' | 'leader' | 'closed';

/** The default bound on |store clock − supervisor clock| past which expiries are held back. */
export const DEFAULT_MAX_CLOCK_SKEW_MS = 2_000;

/**
 * The clock the task timers are armed on, able to hold back what fires: while held, a timer
 * that comes due (lease expiry, grace end, a backoff) is kept, not run; release() runs what
 * was kept, oldest first. A timer cleared while kept is dropped, so a lease renewed meanwhile
 * is not expired afterwards.
 */
export function createExpiryGate(clock: Pick<Clock, 'setTimeout' | 'clearTimeout'>) {
  let holding = false;
  const kept = new Map<TimerHandle, () => void>();
  return {
    clock: {
      setTimeout(fn: () => void, ms: number): TimerHandle {
        const handle: TimerHandle = clock.setTimeout(() => {
          if (holding) kept.set(handle, fn);
          else fn();
        }, ms);
        return handle;
      },
      clearTimeout(handle: TimerHandle) {
        kept.delete(handle);
        clock.clearTimeout(handle);
      },
    },
    get holding() {
      return holding;
    },
    hold() {
      holding = true;
    },
    release() {
      holding = false;
      for (const [handle, fn] of [...kept]) {
        kept.delete(handle);
        fn();
      }
    },
  };
}

export type ExpiryGate = ReturnType<typeof createExpiryGate>;

export interface StandingOptions {
  store: Store;
  logger: Logger;
  standby: boolean;
  /** Null: the clock was injected, and is trusted as it is (no skew check). */
  maxSkewMs: number | null;
  gate: ExpiryGate;
  /** Ownership was lost: the supervisor must close itself. */
  lost(error: StoreLockedError): void;
}

export function createStanding({ store, logger, standby, maxSkewMs, gate, lost }: StandingOptions) {
  let role: SupervisorRole = standby ? 'standby' : 'leader';
  let leader: StoreHolder | undefined;
  let lostError: StoreLockedError | undefined;
  let unsubscribe = () => {};
  let waited!: () => void;
  const firstWait = new Promise<void>((resolve) => (waited = resolve));

  const skewCheck = (ownership: StoreOwnership) => {
    if (maxSkewMs === null) return;
    const off = Math.abs(ownership.skewMs) > maxSkewMs;
    if (off && !gate.holding) {
      gate.hold();
      logger.warn(
        `leasehold: this host's clock is ${Math.round(ownership.skewMs)} ms off the clock of store ${store.location} (bound ${maxSkewMs} ms): ` +
          'lease expiries and grace ends are held back until the clocks agree again; fix the host clock (NTP)',
      );
    } else if (!off && gate.holding) {
      logger.warn(`leasehold: the clocks of this host and store ${store.location} agree again (${Math.round(ownership.skewMs)} ms): expiries resume`);
      gate.release();
    }
  };

  const told = (ownership: StoreOwnership) => {
    if (lostError || role === 'closed') return;
    if (!ownership.lost) return skewCheck(ownership);
    lostError = new StoreLockedError(store.location, `ownership lost (generation ${ownership.generation} was taken over, or not renewed within its TTL): this supervisor acknowledges nothing more and closes`);
    logger.warn(`leasehold: ${lostError.message}`);
    role = 'closed';
    lost(lostError);
  };

  return {
    get role(): SupervisorRole {
      return role;
    },
    /** While standby: who owns the store, as last seen. */
    get leader(): StoreHolder | undefined {
      return role === 'standby' ? leader : undefined;
    },
    /** Resolves once a standby has found the store held (it waits from then on). */
    firstWait,
    waiting(holder: StoreHolder) {
      waited();
      if (holder.problem && holder.problem !== leader?.problem) logger.warn(`leasehold: standby on ${store.location}: cannot reach the store (${holder.problem}); trying again`);
      leader = holder;
    },
    /** The store is open and ours: check the skew, and hear about renewals and a loss from now on. */
    opened() {
      unsubscribe = store.onOwnership?.(told) ?? (() => {});
      const ownership = store.ownership?.();
      if (ownership) told(ownership);
    },
    /** Restored and serving. */
    leading() {
      if (role === 'standby') {
        role = 'leader';
        // Said only when it waited: one that found the store free simply opened it.
        if (leader !== undefined) logger.info?.(`leasehold: took over store ${store.location} (generation ${store.ownership?.()?.generation ?? '?'})`);
      }
    },
    closed() {
      role = 'closed';
      unsubscribe();
    },
    /** What a call the supervisor cannot admit is refused with. */
    refusal(): Error {
      if (lostError) return lostError;
      if (role === 'standby') return new NotLeaderError(leader?.url ?? undefined);
      return new SupervisorClosedError();
    },
    /** Throws NOT_LEADER while standby: a standby holds no tasks to read. */
    mustLead() {
      if (role === 'standby') throw new NotLeaderError(leader?.url ?? undefined);
    },
  };
}

export type Standing = ReturnType<typeof createStanding>;
