// One task's lifecycle, as DESIGN.md's table draws it. Pure: time arrives on events (`at`)
// and through named delays the runtime supplies from the injected clock; compensations
// run in the `compensate` actor the runtime provides. Every command either changes the
// task or emits a `rejected` event saying why not, so the runtime never guesses.
import { assign, emit, fromPromise, not, setup } from 'xstate';
import type {
  AuditEntry,
  CompensationFailure,
  CompensationInput,
  CompensationOutcome,
  GraceOutcome,
  LeaseRecord,
  Recovery,
  Rejection,
  TaskContext,
  TaskEmitted,
  TaskEvent,
  TaskInput,
} from './task.types.js';
import { compensationDelayMs, retryDelayMs } from './task.durations.js';

/** Audit entries kept per task; older ones roll off. */
const AUDIT_LIMIT = 200;
/** Heartbeat times kept per lease for cadence decisions. */
const HEARTBEAT_HISTORY = 20;
/**
 * Characters of an annotation kept in its audit entry: the JSON of the metadata it set, so an
 * overwritten value stays in the history; longer JSON is cut and ends with `…`.
 */
export const ANNOTATION_AUDIT_LIMIT = 1_000;

/** What an annotation set, as its audit entry keeps it (bounded, see ANNOTATION_AUDIT_LIMIT). */
function annotationDetail(metadata: { [key: string]: unknown }): string {
  const text = JSON.stringify(metadata);
  return text.length <= ANNOTATION_AUDIT_LIMIT ? text : `${text.slice(0, ANNOTATION_AUDIT_LIMIT - 1)}…`;
}

type EventOf<T extends TaskEvent['type']> = Extract<TaskEvent, { type: T }>;

const withAudit = (audit: AuditEntry[], entry: AuditEntry): AuditEntry[] => {
  const next = [...audit, entry];
  return next.length > AUDIT_LIMIT ? next.slice(next.length - AUDIT_LIMIT) : next;
};

const leaseOf = (context: TaskContext): LeaseRecord => {
  if (!context.lease) throw new Error(`task ${context.id} has no lease`);
  return context.lease;
};

/** The fencing header of an emitted event, from the task's current lease. */
const fencedBy = (context: TaskContext, at: number) => {
  const lease = leaseOf(context);
  return { taskId: context.id, owner: lease.owner, epoch: lease.epoch, at };
};

/** The event as the given type; guards on owner calls only run for owner-call events. */
const as = <T extends TaskEvent['type']>(event: TaskEvent, ..._types: T[]) => event as EventOf<T>;

/** The newest compensation not yet done: compensations unwind newest-registered first. */
export function nextCompensation(context: TaskContext) {
  for (let i = context.compensations.length - 1; i >= 0; i--) {
    const entry = context.compensations[i]!;
    if (entry.status !== 'done') return entry;
  }
  return undefined;
}

function handOff(context: TaskContext, reason: string, lastSeenAt: number): Recovery {
  const lease = leaseOf(context);
  const spec = context.spec;
  const where: string[] = [];
  if (spec && typeof spec === 'object' && !Array.isArray(spec)) {
    if (typeof spec.worktree === 'string') where.push(`worktree ${spec.worktree}`);
    if (typeof spec.branch === 'string') where.push(`branch ${spec.branch}`);
  }
  const said = context.message ? ` Last message: "${context.message}".` : '';
  const place = where.length > 0 ? ` Their work is in ${where.join(' on ')}.` : '';
  const next =
    context.progress > 0
      ? `Continue from ${context.progress}%, don't start over.`
      : 'No progress was reported; check for partial work before starting.';
  return {
    previousOwner: lease.owner,
    previousEpoch: lease.epoch,
    progress: context.progress,
    message: context.message,
    timeSpentMs: Math.max(0, lastSeenAt - lease.acquiredAt),
    reason,
    instructions: `Task ${context.id} was held by ${lease.owner} (epoch ${lease.epoch}) and ${reason}.${said}${place} ${next}`,
  };
}

function newLease(context: TaskContext, event: EventOf<'lease.claim'>): Partial<TaskContext> {
  const epoch = context.epoch + 1;
  return {
    epoch,
    attempts: context.attempts + 1,
    notBefore: null,
    graceEndsAt: null,
    lease: {
      owner: event.owner,
      epoch,
      acquiredAt: event.at,
      expiresAt: event.at + event.leaseMs,
      heartbeatAt: event.at,
      leaseMs: event.leaseMs,
      graceMs: event.graceMs,
      graceExtensions: {},
      renewals: 0,
      lateHeartbeats: 0,
      heartbeats: [],
    },
  };
}

function renewed(context: TaskContext, event: EventOf<'lease.heartbeat'>, late: boolean): Partial<TaskContext> {
  const lease = leaseOf(context);
  const progress = event.progress === undefined ? context.progress : Math.max(context.progress, event.progress);
  return {
    progress,
    message: event.message ?? context.message,
    graceEndsAt: null,
    lease: {
      ...lease,
      expiresAt: event.at + (event.leaseMs ?? lease.leaseMs),
      graceMs: event.graceMs ?? lease.graceMs,
      heartbeatAt: event.at,
      renewals: lease.renewals + 1,
      lateHeartbeats: lease.lateHeartbeats + (late ? 1 : 0),
      heartbeats: [...lease.heartbeats, event.at].slice(-HEARTBEAT_HISTORY),
    },
    audit: withAudit(context.audit, {
      at: event.at,
      event: late ? 'late-heartbeat' : 'heartbeat',
      owner: lease.owner,
      epoch: lease.epoch,
      ...(event.progress === undefined ? {} : { detail: `progress ${event.progress}` }),
    }),
  };
}

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
    grantLease: assign(({ context, event }) => {
      const claim = as(event, 'lease.claim');
      return {
        ...newLease(context, claim),
        audit: withAudit(context.audit, { at: claim.at, event: 'claimed', owner: claim.owner, epoch: context.epoch + 1 }),
      };
    }),
    reclaimLease: assign(({ context, event }) => {
      const claim = as(event, 'lease.claim');
      const lease = leaseOf(context);
      return {
        recovery: handOff(context, 'its lease expired', lease.heartbeatAt),
        ...newLease(context, claim),
        audit: withAudit(context.audit, {
          at: claim.at,
          event: 'reclaimed',
          owner: claim.owner,
          epoch: context.epoch + 1,
          detail: `from ${lease.owner} (epoch ${lease.epoch})`,
        }),
      };
    }),
    emitClaimed: emit(({ context }) => ({
      type: 'claimed' as const,
      ...fencedBy(context, leaseOf(context).acquiredAt),
      expiresAt: leaseOf(context).expiresAt,
    })),
    emitReclaimed: emit(({ context }) => ({
      type: 'reclaimed' as const,
      ...fencedBy(context, leaseOf(context).acquiredAt),
      previousOwner: context.recovery!.previousOwner,
      previousEpoch: context.recovery!.previousEpoch,
    })),
    emitRecovered: emit(({ context }) => ({
      type: 'recovered' as const,
      ...context.recovery!,
      ...fencedBy(context, leaseOf(context).acquiredAt),
    })),
    extendGrace: assign(({ context }, params: { output: unknown }) => {
      const { at, extension } = params.output as GraceOutcome;
      const lease = leaseOf(context);
      const { extendMs, reason } = extension!;
      return {
        graceEndsAt: at + extendMs,
        // hasOwn: a reason such as "constructor" must not read Object.prototype's member.
        lease: { ...lease, graceExtensions: { ...lease.graceExtensions, [reason]: (Object.hasOwn(lease.graceExtensions, reason) ? lease.graceExtensions[reason]! : 0) + 1 } },
        audit: withAudit(context.audit, { at, event: 'grace-extended', owner: lease.owner, epoch: lease.epoch, detail: `${reason}: +${extendMs} ms` }),
      };
    }),
    emitGraceExtended: emit(({ context }, params: { output: unknown }) => {
      const { at, extension } = params.output as GraceOutcome;
      return { type: 'graceExtended' as const, ...fencedBy(context, at), ...extension!, graceEndsAt: context.graceEndsAt! };
    }),
    recordHeartbeat: assign(({ context, event }) => renewed(context, as(event, 'lease.heartbeat'), false)),
    recordLateHeartbeat: assign(({ context, event }) => renewed(context, as(event, 'lease.heartbeat'), true)),
    emitHeartbeat: emit(({ context }, params: { late: boolean }) => ({
      type: 'heartbeat' as const,
      ...fencedBy(context, leaseOf(context).heartbeatAt),
      expiresAt: leaseOf(context).expiresAt,
      progress: context.progress,
      late: params.late,
    })),
    reportStuck: emit(({ context }) => ({
      type: 'stuck' as const,
      ...fencedBy(context, leaseOf(context).heartbeatAt),
      renewals: leaseOf(context).renewals,
    })),
    keepLateProgress: assign(({ context, event }) => {
      const heartbeat = as(event, 'lease.heartbeat');
      return {
        progress: Math.max(context.progress, heartbeat.progress ?? 0),
        message: heartbeat.message ?? context.message,
        audit: withAudit(context.audit, {
          at: heartbeat.at,
          event: 'late-progress',
          owner: heartbeat.owner,
          epoch: heartbeat.epoch,
          detail: `progress ${heartbeat.progress}`,
        }),
      };
    }),
    extendLease: assign(({ context, event }) => {
      const extend = as(event, 'lease.extend');
      const lease = leaseOf(context);
      return {
        lease: { ...lease, expiresAt: extend.at + extend.windowMs },
        audit: withAudit(context.audit, { at: extend.at, event: 'extended', owner: lease.owner, epoch: lease.epoch, detail: `window ${extend.windowMs} ms` }),
      };
    }),
    recordExpiry: assign(({ context }) => {
      const lease = leaseOf(context);
      return {
        staleCount: context.staleCount + 1,
        graceEndsAt: lease.expiresAt + lease.graceMs,
        audit: withAudit(context.audit, { at: lease.expiresAt, event: 'expired', owner: lease.owner, epoch: lease.epoch }),
      };
    }),
    emitExpired: emit(({ context }) => ({
      type: 'expired' as const,
      ...fencedBy(context, leaseOf(context).expiresAt),
      staleCount: context.staleCount,
      graceEndsAt: context.graceEndsAt!,
    })),
    recordGraceEnd: assign(({ context }) => ({
      audit: withAudit(context.audit, { at: context.graceEndsAt!, event: 'grace-ended', owner: leaseOf(context).owner, epoch: context.epoch }),
    })),
    releaseLease: assign(({ context, event }) => {
      const release = as(event, 'lease.release');
      const lease = leaseOf(context);
      const reason = release.reason ?? 'released';
      return {
        recovery: handOff(context, `was released (${reason})`, release.at),
        lease: null,
        graceEndsAt: null,
        audit: withAudit(context.audit, { at: release.at, event: 'released', owner: lease.owner, epoch: lease.epoch, detail: reason }),
      };
    }),
    emitReleased: emit(({ context, event }) => {
      const release = as(event, 'lease.release');
      return { type: 'released' as const, taskId: context.id, owner: release.owner, epoch: release.epoch, at: release.at, reason: release.reason ?? null };
    }),
    recordCompletion: assign(({ context, event }) => {
      const complete = as(event, 'task.complete');
      return {
        lease: null,
        graceEndsAt: null,
        terminal: { state: 'completed' as const, at: complete.at, by: complete.owner, reason: null, result: complete.result ?? null, failure: null },
        audit: withAudit(context.audit, { at: complete.at, event: 'completed', owner: complete.owner, epoch: complete.epoch }),
      };
    }),
    emitCompleted: emit(({ context, event }) => {
      const complete = as(event, 'task.complete');
      return { type: 'completed' as const, taskId: context.id, owner: complete.owner, epoch: complete.epoch, at: complete.at };
    }),
    scheduleRetry: assign(({ context, event }) => {
      const fail = as(event, 'task.fail');
      return {
        recovery: handOff(context, `failed (${fail.error}) and will be retried`, fail.at),
        lease: null,
        graceEndsAt: null,
        notBefore: fail.at + retryDelayMs(context),
        audit: withAudit(context.audit, { at: fail.at, event: 'failed-retrying', owner: fail.owner, epoch: fail.epoch, detail: fail.error }),
      };
    }),
    recordFailure: assign(({ context, event }) => {
      const fail = as(event, 'task.fail');
      return {
        lease: null,
        graceEndsAt: null,
        failure: { owner: fail.owner, epoch: fail.epoch, error: fail.error, retryable: fail.retryable === true, at: fail.at },
        audit: withAudit(context.audit, { at: fail.at, event: 'failed', owner: fail.owner, epoch: fail.epoch, detail: fail.error }),
      };
    }),
    emitFailed: emit(({ context, event }) => {
      const fail = as(event, 'task.fail');
      return {
        type: 'failed' as const,
        taskId: context.id,
        owner: fail.owner,
        epoch: fail.epoch,
        at: fail.at,
        error: fail.error,
        retryable: fail.retryable === true,
        retryAt: context.notBefore,
      };
    }),
    registerCompensation: assign(({ context, event }) => {
      const add = as(event, 'compensation.add');
      return {
        compensations: [
          ...context.compensations,
          {
            seq: context.compensations.length + 1,
            action: add.action,
            args: add.args ?? null,
            registeredAt: add.at,
            owner: add.owner,
            epoch: add.epoch,
            status: 'pending' as const,
            attempts: 0,
            lastError: null,
            doneAt: null,
          },
        ],
        audit: withAudit(context.audit, { at: add.at, event: 'compensation-added', owner: add.owner, epoch: add.epoch, detail: add.action }),
      };
    }),
    // Idempotent: re-entered after a restart, an attempt already running continues as the
    // same attempt, so a restored task looks exactly as it was stored.
    startCompensation: assign(({ context }) => {
      const entry = nextCompensation(context)!;
      if (entry.status === 'running') return {};
      return {
        compensations: context.compensations.map((e) =>
          e === entry ? { ...e, status: 'running' as const, attempts: e.attempts + 1 } : e,
        ),
      };
    }),
    markCompensationDone: assign(({ context }, params: { output: unknown }) => {
      const entry = nextCompensation(context)!;
      const { at } = params.output as CompensationOutcome;
      return {
        compensations: context.compensations.map((e) => (e === entry ? { ...e, status: 'done' as const, doneAt: at } : e)),
        audit: withAudit(context.audit, { at, event: 'compensation-done', detail: entry.action }),
      };
    }),
    recordCompensationFailure: assign(({ context }, params: { error: unknown }) => {
      const entry = nextCompensation(context)!;
      const failure = params.error as CompensationFailure;
      return {
        compensationRetryAt: failure.at + compensationDelayMs(context, entry.attempts),
        compensations: context.compensations.map((e) =>
          e === entry ? { ...e, status: 'failed' as const, lastError: failure.message } : e,
        ),
        audit: withAudit(context.audit, { at: failure.at, event: 'compensation-failed', detail: `${entry.action}: ${failure.message}` }),
      };
    }),
    quarantineCompensation: assign(({ context }, params: { error: unknown }) => {
      const entry = nextCompensation(context)!;
      const failure = params.error as CompensationFailure;
      const reason = failure.missingHandler
        ? `no compensator for action "${entry.action}"`
        : `compensation "${entry.action}" failed ${entry.attempts} times: ${failure.message}`;
      return {
        compensations: context.compensations.map((e) =>
          e === entry ? { ...e, status: 'failed' as const, lastError: failure.message } : e,
        ),
        terminal: { state: 'quarantined' as const, at: failure.at, by: 'supervisor', reason, result: null, failure: context.failure },
        audit: withAudit(context.audit, { at: failure.at, event: 'quarantined', detail: reason }),
      };
    }),
    recordCompensated: assign(({ context }) => {
      const at = Math.max(context.failure?.at ?? 0, ...context.compensations.map((e) => e.doneAt ?? 0));
      return {
        terminal: { state: 'compensated' as const, at, by: 'supervisor', reason: context.failure?.error ?? null, result: null, failure: context.failure },
        audit: withAudit(context.audit, { at, event: 'compensated' }),
      };
    }),
    emitCompensated: emit(({ context }) => ({ type: 'compensated' as const, taskId: context.id, at: context.terminal!.at })),
    quarantinePoison: assign(({ context }) => {
      const at = context.graceEndsAt!;
      const reason = `lease expired ${context.staleCount} times (maxStale ${context.limits.maxStale}): poison task`;
      return {
        terminal: { state: 'quarantined' as const, at, by: 'supervisor', reason, result: null, failure: null },
        audit: withAudit(context.audit, { at, event: 'quarantined', detail: reason }),
      };
    }),
    recordQuarantine: assign(({ context, event }) => {
      const quarantine = as(event, 'task.quarantine');
      return {
        graceEndsAt: null,
        terminal: { state: 'quarantined' as const, at: quarantine.at, by: quarantine.by, reason: quarantine.reason, result: null, failure: context.failure },
        audit: withAudit(context.audit, { at: quarantine.at, event: 'quarantined', owner: quarantine.by, detail: quarantine.reason }),
      };
    }),
    emitQuarantined: emit(({ context }) => {
      const terminal = context.terminal!;
      return {
        type: 'quarantined' as const,
        taskId: context.id,
        at: terminal.at,
        by: terminal.by ?? 'supervisor',
        reason: terminal.reason ?? '',
        owner: context.lease?.owner ?? null,
        epoch: context.epoch,
      };
    }),
    dropLease: assign({ lease: null, graceEndsAt: null }),
    annotate: assign(({ context, event }) => {
      const annotate = as(event, 'task.annotate');
      return {
        metadata: { ...context.metadata, ...annotate.metadata },
        audit: withAudit(context.audit, { at: annotate.at, event: 'annotated', detail: annotationDetail(annotate.metadata) }),
      };
    }),
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
  context: ({ input }) => ({
    id: input.id,
    spec: input.spec,
    priority: input.priority,
    labels: input.labels,
    limits: input.limits,
    createdAt: input.createdAt,
    epoch: input.epochFloor ?? 0,
    attempts: 0,
    staleCount: 0,
    progress: 0,
    message: null,
    lease: null,
    graceEndsAt: null,
    notBefore: null,
    recovery: null,
    compensations: input.compensations.map((c, i) => ({
      seq: i + 1,
      action: c.action,
      args: c.args,
      registeredAt: input.createdAt,
      owner: null,
      epoch: null,
      status: 'pending' as const,
      attempts: 0,
      lastError: null,
      doneAt: null,
    })),
    compensationRetryAt: null,
    failure: null,
    terminal: null,
    metadata: {},
    audit: [{ at: input.createdAt, event: 'created' }],
    policy: input.policy ?? null,
  }),
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
