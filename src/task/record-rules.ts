// The rules a stored task's context must keep in its state, beside the record's shape (its
// zod schema in record.ts): what the task machine guarantees of every snapshot it makes, and
// what its delays, guards and actions rely on (a `leased` task without a lease would crash the
// first timer armed for it). A record read back that breaks one is refused as STORE_CORRUPT,
// naming the rule, instead of being half-restored. One table, one rule a row.
import { TERMINAL_STATES, type CompensationEntry, type TaskContext } from '../../machines/task.types.js';

interface Rule {
  /** The rule as an error names it. */
  rule: string;
  /** Whether the rule holds for a task in state `path` (`stale.grace`) with `context`. */
  holds: (path: string, context: TaskContext) => boolean;
}

const top = (path: string) => path.split('.')[0]!;
const holdsLease = (path: string) => top(path) === 'leased' || top(path) === 'stale';
const TERMINAL = new Set<string>(TERMINAL_STATES);
const time = (value: number | null | undefined) => typeof value === 'number' && Number.isFinite(value);
const count = (value: unknown) => Number.isSafeInteger(value) && (value as number) >= 0;
const running = (entries: CompensationEntry[]) => entries.filter((entry) => entry.status === 'running').length;
const leftToRun = (entries: CompensationEntry[]) => entries.some((entry) => entry.status !== 'done');

const RULES: Rule[] = [
  { rule: 'a task in leased or stale has a lease', holds: (path, c) => !holdsLease(path) || c.lease !== null },
  { rule: 'a task in planned, failed or a terminal state has no lease', holds: (path, c) => holdsLease(path) || c.lease === null },
  { rule: "lease.epoch is the task's epoch", holds: (_, c) => c.lease === null || c.lease.epoch === c.epoch },
  {
    rule: 'lease.expiresAt, acquiredAt and heartbeatAt are times',
    holds: (_, c) => c.lease === null || (time(c.lease.expiresAt) && time(c.lease.acquiredAt) && time(c.lease.heartbeatAt)),
  },
  { rule: 'graceEndsAt is a time in stale', holds: (path, c) => top(path) !== 'stale' || time(c.graceEndsAt) },
  { rule: 'notBefore is a time in planned.backoff', holds: (path, c) => path !== 'planned.backoff' || time(c.notBefore) },
  { rule: 'compensationRetryAt is a time in failed.retrying', holds: (path, c) => path !== 'failed.retrying' || time(c.compensationRetryAt) },
  { rule: 'epoch, attempts and staleCount are counts (integers, 0 or more)', holds: (_, c) => count(c.epoch) && count(c.attempts) && count(c.staleCount) },
  {
    rule: 'lease.renewals and lease.lateHeartbeats are counts (integers, 0 or more)',
    holds: (_, c) => c.lease === null || (count(c.lease.renewals) && count(c.lease.lateHeartbeats)),
  },
  { rule: 'progress is between 0 and 100', holds: (_, c) => c.progress >= 0 && c.progress <= 100 },
  { rule: 'compensations are numbered 1 to n in order (seq)', holds: (_, c) => c.compensations.every((entry, index) => entry.seq === index + 1) },
  { rule: 'compensation attempts are counts (integers, 0 or more)', holds: (_, c) => c.compensations.every((entry) => count(entry.attempts)) },
  { rule: 'at most one compensation is running', holds: (_, c) => running(c.compensations) <= 1 },
  {
    // An operator's quarantine stops a failed task mid-attempt and leaves that entry running.
    rule: 'a compensation is running only in failed.running (or quarantined)',
    holds: (path, c) => path === 'failed.running' || path === 'quarantined' || running(c.compensations) === 0,
  },
  {
    rule: 'done compensations have doneAt, and only they',
    holds: (_, c) => c.compensations.every((entry) => (entry.status === 'done' ? time(entry.doneAt) : entry.doneAt === null)),
  },
  { rule: 'a failed task has a compensation left to run', holds: (path, c) => top(path) !== 'failed' || leftToRun(c.compensations) },
  { rule: 'every compensation is done in compensated', holds: (path, c) => path !== 'compensated' || !leftToRun(c.compensations) },
  { rule: 'terminal is set only in completed, compensated and quarantined', holds: (path, c) => TERMINAL.has(path) === (c.terminal !== null) },
  { rule: 'terminal.state is the task\'s state', holds: (path, c) => c.terminal === null || c.terminal.state === path },
];

/** The first rule the task breaks in state `path`, or undefined when it keeps them all. */
export function brokenRule(path: string, context: TaskContext): string | undefined {
  return RULES.find((rule) => !rule.holds(path, context))?.rule;
}
