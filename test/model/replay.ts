// Replays a generated model path against the real runtime: a supervisor on a JSON file in a
// temp folder or a PostgreSQL schema (stores.ts), driven by the test clock, called in-process
// or through the client and serve() on loopback (transports.ts). After every step it checks
// that the runtime took the same transition as the model (same state, same stored context,
// same rejection), the shared invariants, that a rejected call left the stored bytes
// identical, and then restarts the supervisor (and its server) on the same store and checks
// that nothing changed across the restart. Over HTTP the views read through the client must
// equal the supervisor's own.
import { expect } from 'vitest';
import { initialTransition, type InspectionEvent } from 'xstate';
import type { CompensationFailure, GraceOutcome, Rejection, TaskEvent } from '../../machines/task.types.js';
import { createSupervisor, LeaseholdError, type Lease } from '../../src/index.js';
import { createTestClock, type TestClock } from '../../src/testing.js';
import { createInvariantChecker } from '../invariants.js';
import {
  deadlineOf,
  HANDLED,
  MODEL_LIMITS,
  MODEL_T0,
  modelInput,
  MODELS,
  TASK_ID,
  type ModelEvent,
  type ModelMachine,
  type ModelPath,
  type ModelSnapshot,
  type ModelVariant,
} from './task-model.js';
import { modelStore, type ModelStoreKind } from './stores.js';
import { transport, type Commands, type Transport } from './transports.js';

/** Work the model drives (a compensation handler, an extension probe): each call waits until a step settles it. */
function held<T>(what: string) {
  let settle: ((outcome: { value?: T; error?: Error }) => void) | undefined;
  return {
    run: () =>
      new Promise<T>((resolve, reject) => {
        settle = ({ value, error }) => (error ? reject(error) : resolve(value as T));
      }),
    settle(outcome: { value?: T; error?: Error }) {
      expect(settle, `the ${what} was never called`).toBeDefined();
      settle!(outcome);
      settle = undefined;
    },
  };
}
type Held = { compensator: ReturnType<typeof held<void>>; probe: ReturnType<typeof held<GraceOutcome['extension']>> };

/** The rejection the model expects for `event` in `snapshot`, if any. */
function expectedRejection(machine: ModelMachine, snapshot: ModelSnapshot, event: ModelEvent): Rejection | undefined {
  for (const t of machine.getTransitionData(snapshot, event as TaskEvent)) {
    for (const action of t.actions as { type?: string; params?: Rejection }[]) {
      if (action?.type === 'reject') return action.params;
    }
  }
  return undefined;
}

const isMissingHandler = (event: ModelEvent | undefined) =>
  !!event && event.type.startsWith('xstate.error.actor.') && (event as { error: CompensationFailure }).error.missingHandler;

async function perform(sup: Commands, clock: TestClock, work: Held, before: ModelSnapshot, event: ModelEvent) {
  if (event.type.startsWith('xstate.after.')) return clock.advanceTo(deadlineOf(before.context, event.type));
  if (isMissingHandler(event)) return clock.settle();
  if (event.type.startsWith('xstate.done.actor.')) {
    const output = (event as { output: GraceOutcome }).output;
    await clock.advanceTo(output.at);
    if (event.type.endsWith('.deciding')) work.probe.settle({ value: output.extension });
    else work.compensator.settle({});
    return clock.settle();
  }
  if (event.type.startsWith('xstate.error.actor.')) {
    const failure = (event as { error: CompensationFailure }).error;
    await clock.advanceTo(failure.at);
    if (event.type.endsWith('.deciding')) work.probe.settle({ error: new Error(failure.message) });
    else work.compensator.settle({ error: new Error(failure.message) });
    return clock.settle();
  }
  const { type, at, byPolicy, ...given } = event as TaskEvent & { byPolicy?: true };
  const args = byPolicy ? Object.fromEntries(Object.entries(given).filter(([key]) => key !== 'leaseMs' && key !== 'graceMs')) : given;
  await clock.advanceTo(at);
  const call: Record<Exclude<TaskEvent['type'], 'task.resume'>, () => Promise<unknown>> = {
    'lease.claim': () => sup.claim(TASK_ID, args as never),
    'lease.heartbeat': () => sup.heartbeat(TASK_ID, args as never),
    'lease.extend': () => sup.extend(TASK_ID, args as never),
    'lease.release': () => sup.release(TASK_ID, args as never),
    'task.complete': () => sup.complete(TASK_ID, args as never),
    'task.fail': () => sup.fail(TASK_ID, args as never),
    'compensation.add': () => sup.addCompensation(TASK_ID, args as never),
    'task.quarantine': () => sup.quarantine(TASK_ID, args as never),
    'task.annotate': () => sup.annotate(TASK_ID, (args as { metadata: never }).metadata),
  };
  return call[type as keyof typeof call]();
}

/** Feeds the client's view of an accepted call to the checker: who holds which lease, until when. */
function acknowledge(checker: ReturnType<typeof createInvariantChecker>, event: ModelEvent, value: unknown, now: number) {
  const call = event as Partial<{ owner: string; epoch: number }>;
  if (event.type === 'lease.claim') checker.acknowledge(value as Lease, now, 'claim');
  if (event.type === 'lease.heartbeat' || event.type === 'lease.extend') checker.acknowledge(value as Lease, now, 'renew');
  if (['task.complete', 'task.fail', 'lease.release'].includes(event.type)) checker.ended(TASK_ID, call.epoch!, call.owner);
}

export const describeStep = (event: ModelEvent) => {
  const e = event as Partial<{ owner: string; epoch: number; progress: number; leaseMs: number; windowMs: number; retryable: boolean; action: string }>;
  const parts = [
    e.owner,
    e.epoch !== undefined ? `@${e.epoch}` : '',
    e.progress !== undefined ? ` ${e.progress}%` : '',
    e.leaseMs === 1 ? ' short' : '',
    e.windowMs !== undefined ? ` window ${e.windowMs}` : '',
    e.retryable ? ' retryable' : '',
    e.action ? ` ${e.action}` : '',
  ].join('');
  const name = event.type.replace(/^xstate\.(after|done\.actor|error\.actor)\.([^.]*).*$/, '$1 $2').replace('0 ', '');
  return parts ? `${name}(${parts.trim()})` : name;
};

/** The owners a path's calls name (each gets an agent token over HTTP). */
const ownersOf = (path: ModelPath) => [...new Set(path.steps.flatMap(({ event }) => ('owner' in event && typeof event.owner === 'string' ? [event.owner] : [])))];

export async function replayPath(
  variant: ModelVariant,
  path: ModelPath,
  inspect: (event: InspectionEvent) => void,
  through: Transport = 'in-process',
  storeKind: ModelStoreKind = 'json',
): Promise<void> {
  const machine = MODELS[variant];
  const place = modelStore(storeKind);
  const clock = createTestClock(MODEL_T0, { awaitWork: false });
  const work: Held = { compensator: held('compensation handler'), probe: held('extension probe') };
  const open = () =>
    createSupervisor({
      store: place.store(),
      clock,
      defaults: MODEL_LIMITS,
      compensators: { [HANDLED]: work.compensator.run },
      ...(variant === 'probed' ? { probes: [work.probe.run] } : {}),
      inspect,
      // Each restart stands for a crash: close does not wait for a handler the path holds open.
      closeTimeoutMs: 0,
    });
  const stored = () => place.stored(TASK_ID);
  const checker = createInvariantChecker();
  const faces = transport(through, ownersOf(path));
  let sup = await open();
  let face = await faces.open(sup);
  /** The tasks as the transport shows them: over HTTP, the same views as in-process. */
  const views = async () => {
    const seen = await face.list();
    if (through !== 'in-process') expect(seen, 'the views over the transport').toEqual(sup.list());
    return { list: () => seen };
  };
  try {
    await face.commands.create({ id: TASK_ID });
    let [before] = initialTransition(machine, modelInput);
    expect(stored()).toEqual(JSON.parse(JSON.stringify({ state: before.value, context: before.context })));

    for (const [i, { event, state: after }] of path.steps.entries()) {
      const where = `step ${i + 1} ${describeStep(event)} from ${JSON.stringify(before.value)}`;
      const rejection = expectedRejection(machine, before, event);
      const bytes = place.bytes();
      const outcome = await perform(face.commands, clock, work, before, event).then(
        (value) => ({ value, error: undefined }),
        (error: unknown) => ({ value: undefined, error }),
      );
      const error = outcome.error;
      if (!error) acknowledge(checker, event, outcome.value, clock.now());
      if (rejection) {
        expect(error, where).toBeInstanceOf(LeaseholdError);
        expect(error, where).toMatchObject(
          rejection.code === 'LEASE_CONFLICT' ? { code: rejection.code, reason: rejection.reason } : { code: rejection.code },
        );
      } else {
        expect(error, where).toBeUndefined();
      }
      // A handler that is missing fails by itself as soon as the task fails: check after it.
      if (isMissingHandler(path.steps[i + 1]?.event)) {
        before = after;
        continue;
      }
      expect(stored(), where).toEqual(JSON.parse(JSON.stringify({ state: after.value, context: after.context })));
      if (rejection && after.context === before.context) expect(place.bytes(), `${where}: rejected call wrote`).toBe(bytes);
      const seen = await views();
      checker.check(seen, clock.now());

      // Crash-restore at every step (the server too): the restored view is the view before the restart.
      await face.close();
      await sup.close();
      sup = await open();
      face = await faces.open(sup);
      const restored = await views();
      expect(restored.list(), `${where}: restart changed the task`).toEqual(seen.list());
      checker.check(restored, clock.now());
      before = after;
    }
  } finally {
    await face.close();
    await sup.close();
    place.dispose();
  }
}
