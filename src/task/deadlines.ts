// The task machine's named delays, made real: each is the time left until an absolute
// deadline kept in context, read from the injected clock. The same deadlines order the
// re-arming after a restart, so timers that passed while the process was down fire oldest
// first.
import type { StateNode } from 'xstate';
import { taskMachine } from '../../machines/task.machine.js';
import type { TaskContext } from '../../machines/task.types.js';
import type { Clock } from '../clock/clock.js';
import { statePath, type TaskSnapshot } from './view.js';

type DelayName = 'leaseExpiry' | 'graceExpiry' | 'retryBackoff' | 'compensationBackoff';

const deadlineOf: Record<DelayName, (context: TaskContext) => number> = {
  leaseExpiry: (c) => c.lease!.expiresAt,
  graceExpiry: (c) => c.graceEndsAt!,
  retryBackoff: (c) => c.notBefore!,
  compensationBackoff: (c) => c.compensationRetryAt!,
};

export function taskDelays(clock: Clock) {
  const remaining = (name: DelayName) => ({ context }: { context: TaskContext }) =>
    Math.max(0, deadlineOf[name](context) - clock.now());
  return {
    leaseExpiry: remaining('leaseExpiry'),
    graceExpiry: remaining('graceExpiry'),
    retryBackoff: remaining('retryBackoff'),
    compensationBackoff: remaining('compensationBackoff'),
  };
}

/** Which delay each timed state arms, and which states invoke work, read from the machine itself. */
const timedStates = new Map<string, DelayName>();
const invokingStates = new Set<string>();
(function collect(node: StateNode<TaskContext, never>) {
  const delay = node.after[0]?.delay;
  if (typeof delay === 'string') timedStates.set(node.path.join('.'), delay as DelayName);
  if (node.invoke.length > 0) invokingStates.add(node.path.join('.'));
  for (const child of Object.values(node.states)) collect(child as StateNode<TaskContext, never>);
})(taskMachine.root as unknown as StateNode<TaskContext, never>);

/**
 * The instant a restored task must be resumed at, or undefined if its state needs nothing.
 * A state that was running invoked work (a compensation, a grace decision) resumes first:
 * the work was interrupted and has no timer of its own.
 */
export function resumeDeadline(snapshot: TaskSnapshot): number | undefined {
  const path = statePath(snapshot.value);
  if (invokingStates.has(path)) return -Infinity;
  const delay = timedStates.get(path);
  return delay ? deadlineOf[delay](snapshot.context) : undefined;
}
