// A task as the store keeps it: `{ state, context }` in plain JSON. Converts snapshots to
// records and validates records read back, so a damaged store is refused (STORE_CORRUPT)
// instead of being half-loaded.
import { z } from 'zod';
import { taskMachine } from '../../machines/task.machine.js';
import { PRIORITIES, TERMINAL_STATES, type Json, type TaskContext } from '../../machines/task.types.js';
import { StoreCorruptError } from '../errors.js';
import type { TaskRecord } from '../store/types.js';
import { limitsSchema } from './limits.js';
import { brokenRule } from './record-rules.js';
import { statePath, type TaskSnapshot } from './view.js';

const time = z.number();
const nullableTime = time.nullable();
// Stores hand back what JSON.parse (or a validated commit) produced, so free-form JSON fields are
// taken as they are: z.json() walks every value recursively and was most of the cost of an open.
const json = z.custom<Json>((value) => value !== undefined);

/**
 * Grace extensions by reason (whatever string a policy or probe gave), taken as parsed:
 * zod's record output would silently drop a "__proto__" reason.
 */
const reasonCounts = z.custom<Record<string, number>>(
  (value) =>
    value !== null && typeof value === 'object' && !Array.isArray(value) && Object.values(value).every((n) => Number.isInteger(n) && (n as number) >= 0),
  { message: 'expected an object of whole counts by reason' },
);

const leaseSchema = z.object({
  owner: z.string(),
  epoch: z.number().int().positive(),
  acquiredAt: time,
  expiresAt: time,
  heartbeatAt: time,
  leaseMs: z.number().positive(),
  graceMs: z.number().min(0),
  graceExtensions: reasonCounts,
  renewals: z.number().int().min(0),
  lateHeartbeats: z.number().int().min(0),
  heartbeats: z.array(time),
});

const recoverySchema = z.object({
  previousOwner: z.string(),
  previousEpoch: z.number().int(),
  progress: z.number(),
  message: z.string().nullable(),
  timeSpentMs: z.number(),
  reason: z.string(),
  instructions: z.string(),
});

const failureSchema = z.object({
  owner: z.string(),
  epoch: z.number().int(),
  error: z.string(),
  retryable: z.boolean(),
  at: time,
});

const contextSchema = z.object({
  id: z.string().min(1),
  spec: json,
  priority: z.enum(PRIORITIES),
  labels: z.array(z.string()),
  limits: limitsSchema,
  createdAt: time,
  epoch: z.number().int().min(0),
  attempts: z.number().int().min(0),
  staleCount: z.number().int().min(0),
  progress: z.number().min(0).max(100),
  message: z.string().nullable(),
  lease: leaseSchema.nullable(),
  graceEndsAt: nullableTime,
  notBefore: nullableTime,
  recovery: recoverySchema.nullable(),
  compensations: z.array(
    z.object({
      seq: z.number().int(),
      action: z.string(),
      args: json,
      registeredAt: time,
      owner: z.string().nullable(),
      epoch: z.number().int().nullable(),
      status: z.enum(['pending', 'running', 'failed', 'done']),
      attempts: z.number().int().min(0),
      lastError: z.string().nullable(),
      doneAt: nullableTime,
    }),
  ),
  compensationRetryAt: nullableTime,
  failure: failureSchema.nullable(),
  terminal: z
    .object({
      state: z.enum(TERMINAL_STATES),
      at: time,
      by: z.string().nullable(),
      reason: z.string().nullable(),
      result: json,
      failure: failureSchema.nullable(),
    })
    .nullable(),
  metadata: z.record(z.string(), json),
  policy: json,
  audit: z.array(
    z.object({
      at: time,
      event: z.string(),
      owner: z.string().optional(),
      epoch: z.number().optional(),
      detail: z.string().optional(),
    }),
  ),
});

// Keeps the schema and the machine's context type from drifting apart.
const _sameShape: (c: z.infer<typeof contextSchema>) => TaskContext = (c) => c;
void _sameShape;

/**
 * The same context as one object literal with every field in place. XState's assign builds
 * each new context with Object.assign onto `{}`, which can leave V8 holding it as a hash table
 * (dictionary mode, ~1.5 KB and slow to read) instead of a compact object; a literal is
 * always compact. The type keeps this list complete.
 */
export function compactContext(c: TaskContext): TaskContext {
  return {
    id: c.id,
    spec: c.spec,
    priority: c.priority,
    labels: c.labels,
    limits: c.limits,
    createdAt: c.createdAt,
    epoch: c.epoch,
    attempts: c.attempts,
    staleCount: c.staleCount,
    progress: c.progress,
    message: c.message,
    lease: c.lease,
    graceEndsAt: c.graceEndsAt,
    notBefore: c.notBefore,
    recovery: c.recovery,
    compensations: c.compensations,
    compensationRetryAt: c.compensationRetryAt,
    failure: c.failure,
    terminal: c.terminal,
    metadata: c.metadata,
    audit: c.audit,
    policy: c.policy,
  };
}

export function recordOf(snapshot: TaskSnapshot): TaskRecord {
  return { state: snapshot.value as TaskRecord['state'], context: snapshot.context as unknown as TaskRecord['context'] };
}

type Resolver = Pick<typeof taskMachine, 'resolveState'>;

/** Resolved configurations by machine and state value: a store holds few distinct values. */
const resolved = new WeakMap<Resolver, Map<string, TaskSnapshot>>();

/**
 * The snapshot of `machine` in `value` with `context`. Resolving a state value (its active
 * nodes, tags) is most of what a snapshot costs, and depends only on the value, so it is done
 * once per distinct value and the result shared: XState builds a new snapshot, with new
 * nodes, tags and children, on every transition and never changes one in place.
 */
export function resolvedSnapshot(machine: Resolver, value: TaskRecord['state'], context: TaskContext): TaskSnapshot {
  let byValue = resolved.get(machine);
  if (byValue === undefined) resolved.set(machine, (byValue = new Map()));
  const key = typeof value === 'string' ? value : JSON.stringify(value);
  let template = byValue.get(key);
  if (template === undefined) {
    template = machine.resolveState({ value: value as never, context }) as TaskSnapshot;
    byValue.set(key, template);
  }
  return { ...template, context };
}

/**
 * Validates a stored record and turns it back into a snapshot of `machine` (the provided one
 * when the task is to run: a snapshot carries the machine, with its delays and actors, that
 * steps it).
 */
export function snapshotOf(location: string, id: string, record: TaskRecord, machine: Resolver = taskMachine): TaskSnapshot {
  const parsed = contextSchema.safeParse(record.context);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new StoreCorruptError(location, `task "${id}": context.${issue.path.join('.')}: ${issue.message}`);
  }
  let snapshot: TaskSnapshot;
  try {
    snapshot = resolvedSnapshot(machine, record.state, parsed.data as TaskContext);
  } catch (error) {
    throw new StoreCorruptError(location, `task "${id}": state ${JSON.stringify(record.state)} is not a task state`, error);
  }
  const path = statePath(snapshot.value);
  const broken = brokenRule(path, snapshot.context);
  if (broken !== undefined) throw new StoreCorruptError(location, `task "${id}" in ${path} breaks a rule of its state: ${broken}`);
  return snapshot;
}
