// The task machine's context arithmetic: what each accepted event does to the durable
// context (audit, lease maths, hand-off, compensation ledger, terminal records). Pure
// functions of the context and the already-narrowed event; the machine (task.machine.ts)
// names them as its actions and guards and holds no arithmetic of its own.
import type {
  AuditEntry,
  CompensationFailure,
  CompensationOutcome,
  GraceOutcome,
  LeaseRecord,
  Recovery,
  TaskContext,
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

export type EventOf<T extends TaskEvent['type']> = Extract<TaskEvent, { type: T }>;
type Update = Partial<TaskContext>;

// concat, not a spread: V8 gives a spread array room for 19 entries, and every task keeps its audit.
const withAudit = (audit: AuditEntry[], entry: AuditEntry): AuditEntry[] => {
  const next = audit.concat([entry]);
  return next.length > AUDIT_LIMIT ? next.slice(next.length - AUDIT_LIMIT) : next;
};

export const leaseOf = (context: TaskContext): LeaseRecord => {
  if (!context.lease) throw new Error(`task ${context.id} has no lease`);
  return context.lease;
};

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

function newLease(context: TaskContext, event: EventOf<'lease.claim'>): Update {
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

/** An accepted heartbeat (on time, or `late` from grace): the lease renewed and the beat audited. */
export function renewed(context: TaskContext, event: EventOf<'lease.heartbeat'>, late: boolean): Update {
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
      heartbeats: lease.heartbeats.concat([event.at]).slice(-HEARTBEAT_HISTORY),
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

/** A new task's context: planned, never leased, its registered compensations all pending. */
export function initialContext(input: TaskInput): TaskContext {
  return {
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
  };
}

// ---- Leases ---------------------------------------------------------------------------

export function grantLease(context: TaskContext, claim: EventOf<'lease.claim'>): Update {
  return {
    ...newLease(context, claim),
    audit: withAudit(context.audit, { at: claim.at, event: 'claimed', owner: claim.owner, epoch: context.epoch + 1 }),
  };
}

export function reclaimLease(context: TaskContext, claim: EventOf<'lease.claim'>): Update {
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
}

export function extendGrace(context: TaskContext, { at, extension }: GraceOutcome): Update {
  const lease = leaseOf(context);
  const { extendMs, reason } = extension!;
  return {
    graceEndsAt: at + extendMs,
    // hasOwn: a reason such as "constructor" must not read Object.prototype's member.
    lease: { ...lease, graceExtensions: { ...lease.graceExtensions, [reason]: (Object.hasOwn(lease.graceExtensions, reason) ? lease.graceExtensions[reason]! : 0) + 1 } },
    audit: withAudit(context.audit, { at, event: 'grace-extended', owner: lease.owner, epoch: lease.epoch, detail: `${reason}: +${extendMs} ms` }),
  };
}

export function keepLateProgress(context: TaskContext, heartbeat: EventOf<'lease.heartbeat'>): Update {
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
}

export function extendLease(context: TaskContext, extend: EventOf<'lease.extend'>): Update {
  const lease = leaseOf(context);
  return {
    lease: { ...lease, expiresAt: extend.at + extend.windowMs },
    audit: withAudit(context.audit, { at: extend.at, event: 'extended', owner: lease.owner, epoch: lease.epoch, detail: `window ${extend.windowMs} ms` }),
  };
}

export function recordExpiry(context: TaskContext): Update {
  const lease = leaseOf(context);
  return {
    staleCount: context.staleCount + 1,
    graceEndsAt: lease.expiresAt + lease.graceMs,
    audit: withAudit(context.audit, { at: lease.expiresAt, event: 'expired', owner: lease.owner, epoch: lease.epoch }),
  };
}

export function recordGraceEnd(context: TaskContext): Update {
  return {
    audit: withAudit(context.audit, { at: context.graceEndsAt!, event: 'grace-ended', owner: leaseOf(context).owner, epoch: context.epoch }),
  };
}

export function releaseLease(context: TaskContext, release: EventOf<'lease.release'>): Update {
  const lease = leaseOf(context);
  const reason = release.reason ?? 'released';
  return {
    recovery: handOff(context, `was released (${reason})`, release.at),
    lease: null,
    graceEndsAt: null,
    audit: withAudit(context.audit, { at: release.at, event: 'released', owner: lease.owner, epoch: lease.epoch, detail: reason }),
  };
}

// ---- Outcomes -------------------------------------------------------------------------

export function recordCompletion(context: TaskContext, complete: EventOf<'task.complete'>): Update {
  return {
    lease: null,
    graceEndsAt: null,
    terminal: { state: 'completed' as const, at: complete.at, by: complete.owner, reason: null, result: complete.result ?? null, failure: null },
    audit: withAudit(context.audit, { at: complete.at, event: 'completed', owner: complete.owner, epoch: complete.epoch }),
  };
}

export function scheduleRetry(context: TaskContext, fail: EventOf<'task.fail'>): Update {
  return {
    recovery: handOff(context, `failed (${fail.error}) and will be retried`, fail.at),
    lease: null,
    graceEndsAt: null,
    notBefore: fail.at + retryDelayMs(context),
    audit: withAudit(context.audit, { at: fail.at, event: 'failed-retrying', owner: fail.owner, epoch: fail.epoch, detail: fail.error }),
  };
}

export function recordFailure(context: TaskContext, fail: EventOf<'task.fail'>): Update {
  return {
    lease: null,
    graceEndsAt: null,
    failure: { owner: fail.owner, epoch: fail.epoch, error: fail.error, retryable: fail.retryable === true, at: fail.at },
    audit: withAudit(context.audit, { at: fail.at, event: 'failed', owner: fail.owner, epoch: fail.epoch, detail: fail.error }),
  };
}

export function quarantinePoison(context: TaskContext): Update {
  const at = context.graceEndsAt!;
  const reason = `lease expired ${context.staleCount} times (maxStale ${context.limits.maxStale}): poison task`;
  return {
    terminal: { state: 'quarantined' as const, at, by: 'supervisor', reason, result: null, failure: null },
    audit: withAudit(context.audit, { at, event: 'quarantined', detail: reason }),
  };
}

export function recordQuarantine(context: TaskContext, quarantine: EventOf<'task.quarantine'>): Update {
  return {
    graceEndsAt: null,
    terminal: { state: 'quarantined' as const, at: quarantine.at, by: quarantine.by, reason: quarantine.reason, result: null, failure: context.failure },
    audit: withAudit(context.audit, { at: quarantine.at, event: 'quarantined', owner: quarantine.by, detail: quarantine.reason }),
  };
}

export function annotate(context: TaskContext, annotation: EventOf<'task.annotate'>): Update {
  return {
    metadata: { ...context.metadata, ...annotation.metadata },
    audit: withAudit(context.audit, { at: annotation.at, event: 'annotated', detail: annotationDetail(annotation.metadata) }),
  };
}

// ---- The compensation ledger ----------------------------------------------------------

export function registerCompensation(context: TaskContext, add: EventOf<'compensation.add'>): Update {
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
}

/**
 * Idempotent: re-entered after a restart, an attempt already running continues as the
 * same attempt, so a restored task looks exactly as it was stored.
 */
export function startCompensation(context: TaskContext): Update {
  const entry = nextCompensation(context)!;
  if (entry.status === 'running') return {};
  return {
    compensations: context.compensations.map((e) =>
      e === entry ? { ...e, status: 'running' as const, attempts: e.attempts + 1 } : e,
    ),
  };
}

export function markCompensationDone(context: TaskContext, { at }: CompensationOutcome): Update {
  const entry = nextCompensation(context)!;
  return {
    compensations: context.compensations.map((e) => (e === entry ? { ...e, status: 'done' as const, doneAt: at } : e)),
    audit: withAudit(context.audit, { at, event: 'compensation-done', detail: entry.action }),
  };
}

export function recordCompensationFailure(context: TaskContext, failure: CompensationFailure): Update {
  const entry = nextCompensation(context)!;
  return {
    compensationRetryAt: failure.at + compensationDelayMs(context, entry.attempts),
    compensations: context.compensations.map((e) =>
      e === entry ? { ...e, status: 'failed' as const, lastError: failure.message } : e,
    ),
    audit: withAudit(context.audit, { at: failure.at, event: 'compensation-failed', detail: `${entry.action}: ${failure.message}` }),
  };
}

export function quarantineCompensation(context: TaskContext, failure: CompensationFailure): Update {
  const entry = nextCompensation(context)!;
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
}

export function recordCompensated(context: TaskContext): Update {
  const at = Math.max(context.failure?.at ?? 0, ...context.compensations.map((e) => e.doneAt ?? 0));
  return {
    terminal: { state: 'compensated' as const, at, by: 'supervisor', reason: context.failure?.error ?? null, result: null, failure: context.failure },
    audit: withAudit(context.audit, { at, event: 'compensated' }),
  };
}
