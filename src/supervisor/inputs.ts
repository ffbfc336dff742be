// What callers may pass to the supervisor, as zod schemas: every public argument is parsed
// here before it reaches a machine, and anything else becomes INVALID_INPUT.
import { z } from 'zod';
import { PRIORITIES, TASK_STATES, type Json } from '../../machines/task.types.js';
import { InvalidInputError } from '../errors.js';
import { duration, limitsSchema, limitsShape } from '../task/limits.js';
import type { Lease } from '../task/view.js';
import { boundedJson, jsonLimitIssue, MAX_JSON_DEPTH } from './json-limits.js';

/** C0 and C1 control characters and DEL (Unicode category Cc): tabs, newlines, NUL, escapes. */
const CONTROL = /\p{Cc}/u;
/**
 * Ids, owners, operators (`by`), compensation actions and labels: kept exactly as given, never
 * trimmed (`' a '` and `'a'` are two names), so what a caller stored is what it finds. Refused:
 * empty or whitespace-only names, and control characters, which no terminal, log line or CLI
 * argument shows faithfully.
 */
export const name = z
  .string()
  .min(1, 'must not be empty')
  .max(512)
  .refine((value) => /\S/.test(value), 'must not be whitespace only')
  .refine((value) => !CONTROL.test(value), 'must not contain control characters (U+0000–U+001F, U+007F–U+009F)');
export const epoch = z.number().int().positive();
// Bounded in depth and size before zod walks it (see json-limits.ts).
export const json = boundedJson;
export const text = z.string().max(10_000);

export const taskId = name;
/** `sup.touch(owner)`: an owner's name. */
export const ownerName = name;
/** `sup.touch(owner, options?)`: the task whose lease it leaves alone. */
export const touchOptions = z.strictObject({ except: taskId.optional() });

/** The reads' options (see ReadOptions in options.ts). */
export const readOptions = z.strictObject({ durable: z.boolean().optional() });

/** Supervisor `defaults`: any limit; built once, since compiling a zod schema is not free. */
export const defaultsInput = limitsSchema.partial();

export const createInput = z.strictObject({
  id: name,
  spec: json.optional(),
  compensations: z.array(z.strictObject({ action: name, args: json.optional() })).max(1000).optional(),
  priority: z.enum(PRIORITIES).optional(),
  labels: z.array(name).max(64).optional(),
  policy: json.optional(),
  ...Object.fromEntries(Object.entries(limitsShape).map(([key, schema]) => [key, schema.optional()])),
}) as z.ZodType<CreateInput>;

export interface CreateInput {
  id: string;
  spec?: Json;
  compensations?: { action: string; args?: Json }[];
  priority?: (typeof PRIORITIES)[number];
  labels?: string[];
  /** This task's own lease policy, as data: `{ kind: 'fixed' }` or `{ kind: 'progressive', … }`. */
  policy?: Json;
  leaseMs?: number;
  graceMs?: number;
  maxAttempts?: number;
  maxStale?: number;
  maxRenewals?: number;
  retryBackoffMs?: number;
  maxRetryBackoffMs?: number;
  compensationAttempts?: number;
  compensationBackoffMs?: number;
}

/** The fields of a claim and a claim-next besides `owner` (the HTTP bodies reuse them). */
export const claimShape = { leaseMs: duration.optional() };
export const claimNextShape = { leaseMs: duration.optional(), labels: z.array(name).max(64).optional() };
export const claimInput = z.strictObject({ owner: name, ...claimShape });
export const claimNextInput = z.strictObject({ owner: name, ...claimNextShape });

/**
 * A lease is its holder's proof: an owner call may carry the whole Lease (`sup.complete(id,
 * lease)`, `{ ...lease, progress: 40 }`). Its fields other than owner and epoch are accepted and
 * ignored, except `taskId`, which must name the task called (checked by the supervisor).
 */
export type LeaseProof = Partial<Omit<Lease, 'owner' | 'epoch'>>;
export const leaseProof = {
  taskId: z.string().optional(),
  acquiredAt: z.unknown().optional(),
  expiresAt: z.unknown().optional(),
  heartbeatAt: z.unknown().optional(),
  leaseMs: z.unknown().optional(),
  graceMs: z.unknown().optional(),
  graceExtensions: z.unknown().optional(),
  renewals: z.unknown().optional(),
  lateHeartbeats: z.unknown().optional(),
  graceEndsAt: z.unknown().optional(),
  recovery: z.unknown().optional(),
} satisfies { [K in keyof Required<LeaseProof>]: z.ZodType };

/** An owner call's schema: owner and epoch, the call's fields, and a lease's fields, left out of its output. */
function ownerCall<S extends z.ZodRawShape>(shape: S) {
  return z.strictObject({ ...leaseProof, owner: name, epoch, ...shape }).transform((parsed) => {
    const own: { [key: string]: unknown } = {};
    for (const [key, item] of Object.entries(parsed as { [key: string]: unknown })) {
      if (!(key in leaseProof) || key in shape) own[key] = item;
    }
    return own as z.output<z.ZodObject<S>> & { owner: string; epoch: number };
  });
}

/**
 * Checks the proof an owner call carried, once its schema accepted it: a lease's `taskId` must
 * be the task called (a lease of another task proves nothing about this one).
 */
export function checkProof(taskId: string, raw: unknown, what: string): void {
  const named = (raw as { taskId?: unknown }).taskId;
  if (named !== undefined && named !== taskId) {
    throw new InvalidInputError(what, [`taskId: the lease is for task ${JSON.stringify(named)}, not ${JSON.stringify(taskId)}`]);
  }
}

/** Whether an owner call carried a whole lease (its `acquiredAt`): then a `leaseMs` may be the lease's own. */
export function carriesLease(raw: unknown): boolean {
  return (raw as { acquiredAt?: unknown }).acquiredAt !== undefined;
}

/** Each owner call's own fields (besides owner, epoch and the lease proof): the HTTP bodies reuse them. */
export const ownerCallShapes = {
  heartbeat: { leaseMs: duration.optional(), progress: z.number().min(0).max(100).optional(), message: text.optional() },
  extend: { windowMs: duration },
  release: { reason: text.optional() },
  complete: { result: json.optional() },
  fail: { error: text.min(1), retryable: z.boolean().optional() },
  addCompensation: { action: name, args: json.optional() },
};
export const heartbeatInput = ownerCall(ownerCallShapes.heartbeat);
export type HeartbeatInput = z.output<typeof heartbeatInput>;
export const extendInput = ownerCall(ownerCallShapes.extend);
export const releaseInput = ownerCall(ownerCallShapes.release);
export const completeInput = ownerCall(ownerCallShapes.complete);
export const failInput = ownerCall(ownerCallShapes.fail);
export const compensationInput = ownerCall(ownerCallShapes.addCompensation);
export const quarantineReason = text.min(1);
export const quarantineInput = z.strictObject({ by: name, reason: quarantineReason });
/** Each value is a bounded JSON field; all of them together are bounded as one (1 MiB). */
export const metadataInput = z.record(z.string(), json).superRefine((metadata, ctx) => {
  const issue = jsonLimitIssue(metadata);
  if (issue !== undefined) ctx.addIssue({ code: 'custom', message: `the metadata is ${issue}` });
});
/** `sup.list(filter?)`: only the top-level state may be asked for. */
export const listFilter = z.strictObject({
  state: z.enum(TASK_STATES).optional(),
  /** The current lease's owner. */
  owner: z.string().optional(),
  /** Tasks that carry this label. */
  label: z.string().optional(),
});

/** What `sup.page` sorts by; ties break by task id. */
export const TASK_SORT_KEYS = ['createdAt', 'id', 'state', 'owner', 'priority', 'attempts', 'progress', 'expiresAt'] as const;
export type TaskSortKey = (typeof TASK_SORT_KEYS)[number];

/** `sup.page(query)`: the filters of `list` and more, a sort and a window (see TaskQuery). */
export const taskQueryShape = {
  ...listFilter.shape,
  substate: z.string().min(1).max(200).optional(),
  search: z.string().min(1).max(200).optional(),
  sort: z.enum(TASK_SORT_KEYS).optional(),
  order: z.enum(['asc', 'desc']).optional(),
  offset: z.number().int().min(0).optional(),
  limit: z.number().int().min(1).max(500).optional(),
};
export const taskQuery = z.strictObject(taskQueryShape) as z.ZodType<TaskQuery>;

/** A page of tasks: which ones (every filter given must hold), in what order, which window. */
export interface TaskQuery {
  /** Top-level state. */
  state?: (typeof TASK_STATES)[number];
  /** Full state path: `stale.grace`, `planned.ready`, `completed`. */
  substate?: string;
  /** The current lease's owner. */
  owner?: string;
  /** Tasks that carry this label. */
  label?: string;
  /** Case-insensitive substring of the task id (1–200 characters). */
  search?: string;
  /**
   * Default `createdAt`. `state` sorts by the full state path, `priority` from low to critical
   * (asc), `owner` and `expiresAt` by the current lease (tasks without one come last in both
   * orders). Ties break by id, ascending, in both orders.
   */
  sort?: TaskSortKey;
  /** Default `asc`. */
  order?: 'asc' | 'desc';
  /** Default 0. */
  offset?: number;
  /** Default 50, at most 500. */
  limit?: number;
}

/**
 * Where `value` has an own "__proto__" key, as paths. zod's object, record and json parsers
 * leave such keys out of their output, so a spec or metadata holding one would be stored
 * without it, silently; they are refused instead (never stored, never executed). Walked with
 * its own stack, and only as deep as a JSON argument may be: deeper values are refused by
 * their schema (json-limits.ts), which names the field.
 */
function prototypeKeys(value: unknown, found: string[]): void {
  const seen = new Set<object>();
  const pending: [unknown, string, number][] = [[value, '', 0]];
  while (pending.length > 0 && found.length < 5) {
    const [item, path, depth] = pending.pop()!;
    if (item === null || typeof item !== 'object' || seen.has(item) || depth > MAX_ARGUMENT_DEPTH) continue;
    seen.add(item);
    if (Array.isArray(item)) {
      for (let index = item.length - 1; index >= 0; index--) pending.push([item[index], `${path}[${index}]`, depth + 1]);
      continue;
    }
    const keys = Object.keys(item);
    for (let index = keys.length - 1; index >= 0; index--) {
      const key = keys[index]!;
      const at = path === '' ? key : `${path}.${key}`;
      if (key === '__proto__') found.push(at);
      pending.push([(item as { [key: string]: unknown })[key], at, depth + 1]);
    }
  }
}

/** How deep a JSON field may sit in an argument (`compensations[i].args`), plus its own bound. */
const MAX_ARGUMENT_DEPTH = 4 + MAX_JSON_DEPTH;

/** Parses `value` or throws INVALID_INPUT naming every problem. */
export function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const forbidden: string[] = [];
  prototypeKeys(value, forbidden);
  if (forbidden.length > 0) {
    throw new InvalidInputError(
      what,
      forbidden.map((at) => `${at}: a "__proto__" key cannot be stored as data; rename it`),
    );
  }
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new InvalidInputError(
    what,
    result.error.issues.map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : '(value)'}: ${issue.message}`),
  );
}
