// The invariants of DESIGN.md as one checker, shared by unit tests, generated model paths
// and random schedules. Feed it every observation of a supervisor (`check`) and, where the
// caller plays the owners, every lease a call handed back (`acknowledge`) and every lease a
// call ended (`ended`); it remembers what it saw before, restarts included, and fails on
// anything that breaks an invariant.
//
// The checks are plain comparisons; `expect` is only reached when one fails (for its
// message), so the checker stays cheap enough to run after every step of 10k+ schedules.
import { isDeepStrictEqual } from 'node:util';
import { expect } from 'vitest';
import type { Lease, Supervisor, TaskView } from '../src/index.js';

const TERMINAL = new Set(['completed', 'compensated', 'quarantined']);

/** What the owners were told about one lease. */
interface AcknowledgedLease {
  owner: string;
  epoch: number;
  /** The latest expiry an acknowledged call reported for this lease. */
  expiresAt: number;
  /** A complete/fail/release on this lease was acknowledged. */
  ended: boolean;
}

export type AcknowledgedAs = 'claim' | 'renew';

export interface InvariantChecker {
  /**
   * Checks every task of `sup` at time `now` against itself and against what was seen before
   * (anything with `list()` will do, e.g. `{ list: () => views }` to reuse views already read).
   */
  check(sup: Pick<Supervisor, 'list'>, now: number): void;
  /**
   * Records a lease an acknowledged call returned at `now`: `claim` for claim/claimNext,
   * `renew` for heartbeat/extend (default: `claim` when the epoch is new on that task).
   * Fails when a claim comes while another acknowledged, unended lease on the task is still
   * live (two owners), when a claim's epoch is not strictly above every epoch acknowledged
   * on that task before (restarts included), or when a renewal is for a lease that was
   * never granted, has ended, or is no longer the newest.
   */
  acknowledge(lease: Lease, now: number, as?: AcknowledgedAs): void;
  /**
   * Records that a complete/fail/release on (`taskId`, `epoch`) was acknowledged. Fails
   * when that lease was never acknowledged (to `owner`, when given), already ended, or is
   * not the newest lease on the task.
   */
  ended(taskId: string, epoch: number, owner?: string): void;
}

export function createInvariantChecker(): InvariantChecker {
  const seen = new Map<string, TaskView>();
  const leases = new Map<string, AcknowledgedLease[]>();

  /** Fails with `message` when `ok` is false; `expect` renders expected vs actual. */
  const ensure = (ok: boolean, message: string, actual: unknown, expected: unknown) => {
    if (ok) return;
    expect(actual, message).toEqual(expected);
    throw new Error(message); // should toEqual find the two equal after all
  };
  const fail = (message: string, details: unknown) => expect.fail(`${message}\n${JSON.stringify(details, null, 2)}`);

  return {
    check(sup, now) {
      for (const task of sup.list()) {
        const where = `task ${task.id} (${task.substate})`;
        const before = seen.get(task.id);

        // 1. at most one live lease, fenced by the task's current epoch
        if (task.state === 'leased') {
          ensure(task.lease !== null, `${where}: leased without a lease`, task.lease, 'a lease');
          ensure(task.lease!.epoch === task.epoch, `${where}: lease epoch`, task.lease!.epoch, task.epoch);
          ensure(task.lease!.expiresAt > now, `${where}: a live lease past its deadline (now ${now})`, task.lease!.expiresAt, `> ${now}`);
        } else if (task.state !== 'stale') {
          ensure(task.lease === null, `${where}: a lease outside leased/stale`, task.lease, null);
        } else {
          ensure(task.lease !== null, `${where}: stale without its expired lease`, task.lease, 'a lease');
          ensure(task.lease!.expiresAt <= now, `${where}: stale before its deadline (now ${now})`, task.lease!.expiresAt, `<= ${now}`);
        }
        ensure(task.epoch === task.attempts, `${where}: epoch vs attempts`, task.epoch, task.attempts);

        // 6. every deadline that has passed has fired (timers are absolute and never late)
        if (task.substate === 'stale.grace') {
          const ends = task.lease?.graceEndsAt ?? null;
          ensure(ends !== null && ends > now, `${where}: still in grace after it ended (now ${now})`, ends, `> ${now}`);
        }
        if (task.substate === 'stale.deciding') {
          const ends = task.lease?.graceEndsAt ?? null;
          ensure(ends !== null && ends <= now, `${where}: deciding on a grace that has not ended (now ${now})`, ends, `<= ${now}`);
        }
        if (task.substate === 'stale.expired') {
          const ends = task.lease?.graceEndsAt ?? null;
          ensure(ends === null || ends <= now, `${where}: expired before grace ended (now ${now})`, ends, `<= ${now}`);
          // a lease that expired maxStale times is quarantined when its grace ends (poison task)
          ensure(task.staleCount < task.limits.maxStale, `${where}: up for grabs after ${task.staleCount} expiries`, task.staleCount, `< ${task.limits.maxStale}`);
        }
        if (task.substate === 'planned.backoff') {
          ensure(task.notBefore !== null && task.notBefore > now, `${where}: still backing off after notBefore (now ${now})`, task.notBefore, `> ${now}`);
        }

        const acked = leases.get(task.id);
        if (acked && acked.length > 0) {
          // 1. the task never falls behind what its owners were told
          const newest = acked[acked.length - 1]!;
          ensure(task.epoch >= newest.epoch, `${where}: epoch below an acknowledged claim`, task.epoch, `>= ${newest.epoch}`);
        }

        if (before) {
          // 1. epochs never go back; each claim takes a strictly larger one
          ensure(task.epoch >= before.epoch, `${where}: epoch went back`, task.epoch, `>= ${before.epoch}`);
          if (task.lease && before.lease && task.lease.owner !== before.lease.owner) {
            ensure(task.lease.epoch > before.lease.epoch, `${where}: new owner without a new epoch`, task.lease.epoch, `> ${before.lease.epoch}`);
          }
          // 3. terminal states absorb everything but annotations
          if (TERMINAL.has(before.state)) {
            ensure(task.state === before.state, `${where}: left terminal state ${before.state}`, task.state, before.state);
            ensure(isDeepStrictEqual(task.terminal, before.terminal), `${where}: terminal record changed`, task.terminal, before.terminal);
            ensure(task.epoch === before.epoch, `${where}: terminal task re-leased`, task.epoch, before.epoch);
            ensure(
              isDeepStrictEqual(task.compensations, before.compensations),
              `${where}: terminal ledger changed`,
              task.compensations,
              before.compensations,
            );
          }
          // 4. the compensation ledger never shrinks and done entries stay done
          ensure(
            task.compensations.length >= before.compensations.length,
            `${where}: ledger shrank`,
            task.compensations.length,
            `>= ${before.compensations.length}`,
          );
          for (const [i, entry] of before.compensations.entries()) {
            const current = task.compensations[i]!;
            ensure(current.action === entry.action, `${where}: ledger entry ${i} replaced`, current.action, entry.action);
            if (entry.status === 'done') ensure(current.status === 'done', `${where}: done entry reopened`, current.status, 'done');
            ensure(current.attempts >= entry.attempts, `${where}: attempts went back`, current.attempts, `>= ${entry.attempts}`);
          }
          ensure(task.progress >= before.progress, `${where}: progress went back`, task.progress, `>= ${before.progress}`);
          ensure(task.staleCount >= before.staleCount, `${where}: staleCount went back`, task.staleCount, `>= ${before.staleCount}`);
        }
        // 4. `compensated` means every compensation ran
        if (task.state === 'compensated') {
          ensure(
            task.compensations.every((c) => c.status === 'done'),
            `${where}: compensated with undone entries`,
            task.compensations.map((c) => c.status),
            'all done',
          );
        }
        seen.set(task.id, task);
      }
    },

    acknowledge(lease, now, as) {
      const where = `task ${lease.taskId}: lease epoch ${lease.epoch} acknowledged to ${lease.owner} at ${now}`;
      const acked = leases.get(lease.taskId) ?? [];
      leases.set(lease.taskId, acked);
      const same = acked.find((l) => l.epoch === lease.epoch);
      const kind = as ?? (same ? 'renew' : 'claim');
      if (lease.expiresAt <= now) fail(`${where}: an acknowledged lease already past its deadline`, { lease, now });

      if (kind === 'claim') {
        // 1. strictly larger than every epoch handed out before on this task
        const highest = acked.reduce((max, l) => Math.max(max, l.epoch), 0);
        if (lease.epoch <= highest) fail(`${where}: claim epoch not above every earlier one (highest ${highest})`, { lease, acked });
        // 1. nobody else still holds a live, unended lease
        const live = acked.filter((l) => !l.ended && l.expiresAt > now);
        if (live.length > 0) fail(`${where}: granted while another acknowledged lease is live (two owners)`, { lease, live });
        acked.push({ owner: lease.owner, epoch: lease.epoch, expiresAt: lease.expiresAt, ended: false });
        return;
      }
      // a renewal: of a lease its owner was granted, still held, and still the newest
      if (!same) return fail(`${where}: renewal of a lease never acknowledged`, { lease, acked });
      if (same.owner !== lease.owner) fail(`${where}: renewal by ${lease.owner} of ${same.owner}'s lease`, { lease, acked });
      if (same.ended) fail(`${where}: renewal of an ended lease`, { lease, acked });
      if (same !== acked[acked.length - 1]) fail(`${where}: renewal of a superseded lease (fencing)`, { lease, acked });
      if (lease.expiresAt < same.expiresAt) fail(`${where}: renewal shortened the lease`, { lease, acked });
      same.expiresAt = lease.expiresAt;
    },

    ended(taskId, epoch, owner) {
      const where = `task ${taskId}: lease epoch ${epoch} ended${owner === undefined ? '' : ` by ${owner}`}`;
      const acked = leases.get(taskId) ?? [];
      const same = acked.find((l) => l.epoch === epoch);
      if (!same) return fail(`${where}: never acknowledged`, { acked });
      if (owner !== undefined && same.owner !== owner) fail(`${where}: the lease was ${same.owner}'s`, { acked });
      if (same.ended) fail(`${where}: already ended`, { acked });
      if (same !== acked[acked.length - 1]) fail(`${where}: superseded by a later claim (fencing)`, { acked });
      same.ended = true;
    },
  };
}
