// One task's lifecycle, as DESIGN.md's table draws it: the diagram, with every guard and
// action named. What an action does to the context is in task.context.ts, what it emits in
// task.emitted.ts, how long a backoff lasts in task.durations.ts. Pure: time arrives on events
// (`at`) and through named delays the runtime supplies from the injected clock; compensations
// run in the `compensate` actor the runtime provides. Every command either changes the task
// or emits a `rejected` event saying why not, so the runtime never guesses.
import { assign, emit, fromPromise, not, setup } from 'xstate';
import type {
  CompensationFailure,
  CompensationInput,
  CompensationOutcome,
  GraceOutcome,
  Rejection,
  TaskContext,
  TaskEmitted,
  TaskEvent,
  TaskInput,
} from './task.types.js';
import * as update from './task.context.js';
import { type EventOf, initialContext, leaseOf, nextCompensation } from './task.context.js';
import * as emitted from './task.emitted.js';

export { ANNOTATION_AUDIT_LIMIT, nextCompensation } from './task.context.js';

/** The event as the given type; guards on owner calls only run for owner-call events. */
const as = <T extends TaskEvent['type']>(event: TaskEvent, ..._types: T[]) => event as EventOf<T>;

const rejection = (state: string, params: Rejection) => ({ type: 'reject' as const, params: { ...params, state } });
const conflict = (state: string, reason: Extract<Rejection, { code: 'LEASE_CONFLICT' }>['reason']) =>
  rejection(state, { code: 'LEASE_CONFLICT', reason });

/** Owner calls bounce with `not_owner`, then `stale_epoch`, before anything else is checked. */
const fenced = (state: string) => [
  { guard: not('isOwner'), actions: conflict(state, 'not_owner') },
  { guard: not('isCurrentEpoch'), actions: conflict(state, 'stale_epoch') },
];

const ownerCalls = ['lease.heartbeat', 'lease.extend', 'lease.release', 'task.complete', 'task.fail', 'compensation.add'] as const;

/** A finished task turns away every call but annotation (quarantine too, unless `failed`). */
const finished = (state: string, alsoQuarantine: boolean) =>
  Object.fromEntries(
    [...ownerCalls, 'lease.claim', ...(alsoQuarantine ? ['task.quarantine'] : [])].map((type) => [
      type,
      { actions: rejection(state, { code: 'TERMINAL_TASK' }) },
    ]),
  );

/** An accepted heartbeat renews the lease; the one that reaches `maxRenewals` also reports `stuck`. */
const acceptHeartbeat = (target: string, late: boolean) => {
  const record = late ? ('recordLateHeartbeat' as const) : ('recordHeartbeat' as const);
  const announce = { type: 'emitHeartbeat' as const, params: { late } };
  return [
    { guard: 'reachesMaxRenewals' as const, target, reenter: true, actions: [record, announce, 'reportStuck' as const] },
    { target, reenter: true, actions: [record, announce] },
  ];
};

/** While the lease is expired but not yet up for grabs, nobody can claim and its holder may come back. */
const holderMayReturn = {
  'lease.claim': { actions: conflict('stale', 'in_grace') },
  'lease.heartbeat': [...fenced('stale'), ...acceptHeartbeat('#task.leased', true)],
};

/** Grace is over and not extended: a poison task is quarantined, any other is up for grabs. */
const graceEnds = [
  { guard: 'tooManyExpiries' as const, target: '#task.quarantined', actions: ['quarantinePoison' as const, 'emitQuarantined' as const, 'dropLease' as const] },
  { target: 'expired', actions: 'recordGraceEnd' as const },
];

const unresolvedDelay = () => {
  throw new Error('task machine delays are supplied by the supervisor runtime (machine.provide)');
};

export const taskMachine = setup({
  types: {} as {
    context: TaskContext;
    events: TaskEvent;
    input: TaskInput;
    emitted: TaskEmitted;
  },
  guards: {
    isOwner: ({ context, event }) => context.lease?.owner === as(event, ...ownerCalls).owner,
    isCurrentEpoch: ({ context, event }) => context.lease?.epoch === as(event, ...ownerCalls).epoch,
    extendsLease: ({ context, event }) => {
      const heartbeat = as(event, 'lease.heartbeat');
      const lease = leaseOf(context);
      return heartbeat.at + (heartbeat.leaseMs ?? lease.leaseMs) > lease.expiresAt;
    },
    extendsWindow: ({ context, event }) => {
      const extend = as(event, 'lease.extend');
      return extend.at + extend.windowMs > leaseOf(context).expiresAt;
    },
    canRetry: ({ context, event }) =>
      as(event, 'task.fail').retryable === true && context.attempts < context.limits.maxAttempts,
    reachesMaxRenewals: ({ context }) => leaseOf(context).renewals + 1 === context.limits.maxRenewals,
    tooManyExpiries: ({ context }) => context.staleCount >= context.limits.maxStale,
    hasHandOff: ({ context }) => context.recovery !== null && context.recovery.previousEpoch === context.epoch,
    /** Supplied by the runtime: whether a policy or probe may extend this task's grace. */
    consultsPolicy: () => false,
    graceExtended: (_, params: { output: unknown }) => (params.output as GraceOutcome).extension !== null,
    reportsProgress: ({ context, event }) => {
      const { progress } = as(event, 'lease.heartbeat');
      return progress !== undefined && progress >= context.progress;
    },
    allCompensated: ({ context }) => nextCompensation(context) === undefined,
    handlerMissing: (_, params: { error: unknown }) => (params.error as CompensationFailure).missingHandler,
    compensationRetriesLeft: ({ context }) =>
      (nextCompensation(context)?.attempts ?? 0) < context.limits.compensationAttempts,
  },
  actions: {
    reject: emit(({ context }, params: Rejection & { state: string }) => ({
      type: 'rejected' as const,
      taskId: context.id,
      ...params,
    })),
    grantLease: assign(({ context, event }) => update.grantLease(context, as(event, 'lease.claim'))),
    reclaimLease: assign(({ context, event }) => update.reclaimLease(context, as(event, 'lease.claim'))),
    emitClaimed: emit(({ context }) => emitted.claimed(context)),
    emitReclaimed: emit(({ context }) => emitted.reclaimed(context)),
    emitRecovered: emit(({ context }) => emitted.recovered(context)),
    extendGrace: assign(({ context }, params: { output: unknown }) => update.extendGrace(context, params.output as GraceOutcome)),
    emitGraceExtended: emit(({ context }, params: { output: unknown }) => emitted.graceExtended(context, params.output as GraceOutcome)),
    recordHeartbeat: assign(({ context, event }) => update.renewed(context, as(event, 'lease.heartbeat'), false)),
    recordLateHeartbeat: assign(({ context, event }) => update.renewed(context, as(event, 'lease.heartbeat'), true)),
    emitHeartbeat: emit(({ context }, params: { late: boolean }) => emitted.heartbeat(context, params.late)),
    reportStuck: emit(({ context }) => emitted.stuck(context)),
    keepLateProgress: assign(({ context, event }) => update.keepLateProgress(context, as(event, 'lease.heartbeat'))),
    extendLease: assign(({ context, event }) => update.extendLease(context, as(event, 'lease.extend'))),
    recordExpiry: assign(({ context }) => update.recordExpiry(context)),
    emitExpired: emit(({ context }) => emitted.expired(context)),
    recordGraceEnd: assign(({ context }) => update.recordGraceEnd(context)),
    releaseLease: assign(({ context, event }) => update.releaseLease(context, as(event, 'lease.release'))),
    emitReleased: emit(({ context, event }) => emitted.released(context, as(event, 'lease.release'))),
    recordCompletion: assign(({ context, event }) => update.recordCompletion(context, as(event, 'task.complete'))),
    emitCompleted: emit(({ context, event }) => emitted.completed(context, as(event, 'task.complete'))),
    scheduleRetry: assign(({ context, event }) => update.scheduleRetry(context, as(event, 'task.fail'))),
    recordFailure: assign(({ context, event }) => update.recordFailure(context, as(event, 'task.fail'))),
    emitFailed: emit(({ context, event }) => emitted.failed(context, as(event, 'task.fail'))),
    registerCompensation: assign(({ context, event }) => update.registerCompensation(context, as(event, 'compensation.add'))),
    startCompensation: assign(({ context }) => update.startCompensation(context)),
    markCompensationDone: assign(({ context }, params: { output: unknown }) =>
      update.markCompensationDone(context, params.output as CompensationOutcome),
    ),
    recordCompensationFailure: assign(({ context }, params: { error: unknown }) =>
      update.recordCompensationFailure(context, params.error as CompensationFailure),
    ),
    quarantineCompensation: assign(({ context }, params: { error: unknown }) =>
      update.quarantineCompensation(context, params.error as CompensationFailure),
    ),
    recordCompensated: assign(({ context }) => update.recordCompensated(context)),
    emitCompensated: emit(({ context }) => emitted.compensated(context)),
    quarantinePoison: assign(({ context }) => update.quarantinePoison(context)),
    recordQuarantine: assign(({ context, event }) => update.recordQuarantine(context, as(event, 'task.quarantine'))),
    emitQuarantined: emit(({ context }) => emitted.quarantined(context)),
    dropLease: assign({ lease: null, graceEndsAt: null }),
    annotate: assign(({ context, event }) => update.annotate(context, as(event, 'task.annotate'))),
  },
  delays: {
    leaseExpiry: unresolvedDelay,
    graceExpiry: unresolvedDelay,
    retryBackoff: unresolvedDelay,
    compensationBackoff: unresolvedDelay,
  },
  actors: {
    decideGrace: fromPromise<GraceOutcome, { taskId: string }>(async () => {
      throw new Error('the decideGrace actor is supplied by the supervisor runtime (machine.provide)');
    }),
    compensate: fromPromise<CompensationOutcome, CompensationInput>(async () => {
      throw new Error('the compensate actor is supplied by the supervisor runtime (machine.provide)');
    }),
  },
}).createMachine({
  id: 'task',
  context: ({ input }) => initialContext(input),
  initial: 'planned',
  on: {
    'lease.heartbeat': { actions: conflict('planned', 'no_lease') },
    'lease.extend': { actions: conflict('planned', 'no_lease') },
    'lease.release': { actions: conflict('planned', 'no_lease') },
    'task.complete': { actions: conflict('planned', 'no_lease') },
    'task.fail': { actions: conflict('planned', 'no_lease') },
    'compensation.add': { actions: conflict('planned', 'no_lease') },
    'task.quarantine': { target: '.quarantined', actions: ['recordQuarantine', 'emitQuarantined', 'dropLease'] },
    'task.annotate': { actions: 'annotate' },
  },
  states: {
    planned: {
      initial: 'ready',
      states: {
        ready: {
          on: {
            'lease.claim': [
              { guard: 'hasHandOff', target: '#task.leased', actions: ['grantLease', 'emitClaimed', 'emitRecovered'] },
              { target: '#task.leased', actions: ['grantLease', 'emitClaimed'] },
            ],
          },
        },
        backoff: {
          description: 'A retryable failure waits out its backoff before the task can be claimed again.',
          after: { retryBackoff: { target: 'ready' } },
          on: {
            'lease.claim': { actions: conflict('planned', 'backoff') },
            'task.resume': { target: 'backoff', reenter: true },
          },
        },
      },
    },
    leased: {
      after: { leaseExpiry: { target: 'stale', actions: ['recordExpiry', 'emitExpired'] } },
      on: {
        'lease.claim': { actions: conflict('leased', 'held') },
        'lease.heartbeat': [
          ...fenced('leased'),
          { guard: not('extendsLease'), actions: conflict('leased', 'not_extending') },
          ...acceptHeartbeat('leased', false),
        ],
        'lease.extend': [
          ...fenced('leased'),
          { guard: 'extendsWindow', target: 'leased', reenter: true, actions: 'extendLease' },
          { description: 'The window never shortens a lease; the call is accepted unchanged.' },
        ],
        'lease.release': [...fenced('leased'), { target: 'planned', actions: ['releaseLease', 'emitReleased'] }],
        'task.complete': [...fenced('leased'), { target: 'completed', actions: ['recordCompletion', 'emitCompleted'] }],
        'task.fail': [
          ...fenced('leased'),
          { guard: 'canRetry', target: 'planned.backoff', actions: ['scheduleRetry', 'emitFailed'] },
          { target: 'failed', actions: ['recordFailure', 'emitFailed'] },
        ],
        'compensation.add': [...fenced('leased'), { actions: 'registerCompensation' }],
        'task.resume': { target: 'leased', reenter: true },
      },
    },
    stale: {
      initial: 'grace',
      description: 'The lease expired; its holder may still finish, fail or release until it is re-granted.',
      states: {
        grace: {
          after: {
            graceExpiry: [{ guard: 'consultsPolicy', target: 'deciding' }, ...graceEnds],
          },
          on: { ...holderMayReturn, 'task.resume': { target: 'grace', reenter: true } },
        },
        deciding: {
          description: 'Grace is over: the policy and extension probes may grant one more grace period; a heartbeat meanwhile wins.',
          invoke: {
            src: 'decideGrace',
            input: ({ context }) => ({ taskId: context.id }),
            onDone: [
              {
                guard: { type: 'graceExtended', params: ({ event }) => ({ output: event.output }) },
                target: 'grace',
                actions: [
                  { type: 'extendGrace', params: ({ event }) => ({ output: event.output }) },
                  { type: 'emitGraceExtended', params: ({ event }) => ({ output: event.output }) },
                ],
              },
              ...graceEnds,
            ],
            // A policy or probe failed (logged by the runtime) and nothing was granted: grace ends
            // as without an extension. Without this, XState would put the task in its error
            // status, where it accepts nothing ever again.
            onError: graceEnds,
          },
          on: { ...holderMayReturn, 'task.resume': { target: 'deciding', reenter: true } },
        },
        expired: {
          on: {
            'lease.claim': { target: '#task.leased', actions: ['reclaimLease', 'emitClaimed', 'emitReclaimed', 'emitRecovered'] },
            'lease.heartbeat': [
              ...fenced('stale'),
              {
                guard: 'reportsProgress',
                description: 'Late progress is kept for the next claimer even though the heartbeat is refused.',
                actions: ['keepLateProgress', conflict('stale', 'expired')],
              },
              { actions: conflict('stale', 'expired') },
            ],
          },
        },
      },
      on: {
        'lease.extend': [...fenced('stale'), { actions: conflict('stale', 'expired') }],
        'lease.release': [...fenced('stale'), { target: 'planned', actions: ['releaseLease', 'emitReleased'] }],
        'task.complete': [
          ...fenced('stale'),
          { description: 'Late-completion salvage: finished work is not thrown away.', target: 'completed', actions: ['recordCompletion', 'emitCompleted'] },
        ],
        'task.fail': [
          ...fenced('stale'),
          { guard: 'canRetry', target: 'planned.backoff', actions: ['scheduleRetry', 'emitFailed'] },
          { target: 'failed', actions: ['recordFailure', 'emitFailed'] },
        ],
        'compensation.add': [...fenced('stale'), { actions: 'registerCompensation' }],
      },
    },
    failed: {
      initial: 'next',
      description: 'Compensations unwind newest-registered first; each done one is never run again.',
      on: finished('failed', false),
      states: {
        next: {
          always: [
            { guard: 'allCompensated', target: '#task.compensated', actions: ['recordCompensated', 'emitCompensated'] },
            { target: 'running' },
          ],
        },
        running: {
          entry: 'startCompensation',
          invoke: {
            src: 'compensate',
            input: ({ context }) => ({ taskId: context.id, entry: nextCompensation(context)! }),
            onDone: { target: 'next', actions: { type: 'markCompensationDone', params: ({ event }) => ({ output: event.output }) } },
            onError: [
              {
                guard: { type: 'handlerMissing', params: ({ event }) => ({ error: event.error }) },
                target: '#task.quarantined',
                actions: [{ type: 'quarantineCompensation', params: ({ event }) => ({ error: event.error }) }, 'emitQuarantined', 'dropLease'],
              },
              {
                guard: 'compensationRetriesLeft',
                target: 'retrying',
                actions: { type: 'recordCompensationFailure', params: ({ event }) => ({ error: event.error }) },
              },
              {
                target: '#task.quarantined',
                actions: [{ type: 'quarantineCompensation', params: ({ event }) => ({ error: event.error }) }, 'emitQuarantined', 'dropLease'],
              },
            ],
          },
          on: { 'task.resume': { target: 'running', reenter: true } },
        },
        retrying: {
          after: { compensationBackoff: { target: 'running' } },
          on: { 'task.resume': { target: 'retrying', reenter: true } },
        },
      },
    },
    completed: { tags: ['terminal'], on: finished('completed', true) },
    compensated: { tags: ['terminal'], on: finished('compensated', true) },
    quarantined: { tags: ['terminal'], on: finished('quarantined', true) },
  },
});

export type TaskMachine = typeof taskMachine;