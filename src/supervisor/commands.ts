// Public calls as task-machine events: the claim and heartbeat events (whose lease terms come
// from the caller or else the task's lease policy), the input of a new task, and the text of
// each lease-conflict reason. Pure builders: they read the snapshot they are given, change nothing.
import type { TaskEvent, TaskInput, TaskLimits } from '../../machines/task.types.js';
import type { ConflictReason } from '../errors.js';
import type { LeasePolicy } from '../policy/types.js';
import { taskView, type TaskSnapshot } from '../task/view.js';
import type * as inputs from './inputs.js';
import type { createLeaseTerms } from './lease-terms.js';

export const conflictText: Record<ConflictReason, string> = {
  held: 'the task is already leased',
  in_grace: 'the lease expired but its holder is still in its grace period',
  not_owner: 'the lease belongs to another owner',
  stale_epoch: "the epoch is not the current lease's epoch",
  expired: 'the lease has expired',
  no_lease: 'the task has no lease',
  not_extending: 'the heartbeat would not extend the lease',
  backoff: 'the task is waiting out its retry backoff',
};

export type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** What the event builders read besides the task: its policy, the checked terms, the time. */
export interface LeaseRules {
  policyFor: (context: TaskSnapshot['context']) => LeasePolicy;
  terms: ReturnType<typeof createLeaseTerms>;
  now: () => number;
}

/** A claim's lease and grace come from the caller or else from the task's lease policy. */
export function claimEvent(snapshot: TaskSnapshot, input: { owner: string; leaseMs?: number }, { policyFor, terms, now }: LeaseRules): TaskEvent {
  const task = taskView(snapshot, false);
  const rules = policyFor(snapshot.context);
  const at = now();
  const ask = { task, now: at, kind: 'claim' as const };
  return {
    type: 'lease.claim',
    owner: input.owner,
    leaseMs: input.leaseMs ?? terms.leaseMs(rules, ask),
    graceMs: terms.graceMs(rules, ask),
    at,
  };
}

/**
 * A renewal without an explicit `leaseMs` asks the policy (only when there is a lease to renew).
 * A lease given whole as the proof carries its own `leaseMs`: that one is not a request.
 */
export function heartbeatEvent(snapshot: TaskSnapshot | undefined, given: inputs.HeartbeatInput, fromLease: boolean, { policyFor, terms, now }: LeaseRules) {
  const own = fromLease && given.leaseMs === snapshot?.context.lease?.leaseMs;
  const input = own ? { ...given, leaseMs: undefined } : given;
  if (!snapshot?.context.lease || input.leaseMs !== undefined) return { type: 'lease.heartbeat' as const, ...input };
  const task = taskView(snapshot, false);
  const rules = policyFor(snapshot.context);
  const ask = { task, now: now(), kind: 'heartbeat' as const, ...(input.progress === undefined ? {} : { progress: input.progress }) };
  return { type: 'lease.heartbeat' as const, ...input, leaseMs: terms.leaseMs(rules, ask), graceMs: terms.graceMs(rules, ask) };
}

/** A new task's machine input: the caller's fields, the supervisor's defaults for the rest. */
export function taskInput(input: inputs.CreateInput, defaults: TaskLimits, createdAt: number, epochFloor: number): TaskInput {
  const limits = Object.fromEntries(
    Object.entries(defaults).map(([key, value]) => [key, input[key as keyof TaskLimits] ?? value]),
  ) as unknown as TaskLimits;
  return {
    id: input.id,
    spec: input.spec ?? null,
    priority: input.priority ?? 'medium',
    labels: input.labels ?? [],
    limits,
    compensations: (input.compensations ?? []).map((c) => ({ action: c.action, args: c.args ?? null })),
    createdAt,
    policy: input.policy ?? null,
    epochFloor,
  };
}
