// What counts as a well-formed task record, shared by every store so that a record one store
// accepts on commit is one any store will read back (and the JSON file never holds data it
// would later refuse as corrupt). Owns turning committed records into their JSON text, which
// is the copy a store keeps: texts cannot be changed by the caller and need no deep clone.

import { z } from 'zod';
import { InvalidInputError } from '../errors.js';
import type { StoreChanges, StoreMeta, TaskRecord } from './types.js';

// zod's record/object parsers skip "__proto__" keys (to protect the object they build), so zod
// only checks shapes here; task ids and the values we keep are taken from the input itself.
const taskRecordShape = z.strictObject({
  state: z.union([z.string().min(1), z.record(z.string(), z.unknown())], {
    error: 'must be a non-empty string or an object',
  }),
  context: z.looseObject({ id: z.string() }),
});

const MAX_ISSUES = 5;

/**
 * Levels of nesting a record may have. Far more than the supervisor writes (its free-form
 * fields are bounded at 64 levels, a few more for where they sit in a record) and far less than
 * would overflow the call stack of the recursive checks below: a file crafted deeper is
 * STORE_CORRUPT, not a RangeError.
 */
const MAX_RECORD_DEPTH = 1_000;

/**
 * Problems with one record stored under `id`; `where` prefixes each message. The thorough
 * check, with a message per problem: stores run it only once the quick checks below failed.
 */
export function taskRecordIssues(id: string, value: unknown, where: string): string[] {
  if (id.length === 0) return [`${where}: a task id must not be empty`];
  const parsed = taskRecordShape.safeParse(value);
  if (!parsed.success) {
    return parsed.error.issues.map((issue) => {
      const at = issue.path.length === 0 ? '' : `.${issue.path.map(String).join('.')}`;
      return `${where}${at}: ${issue.message}`;
    });
  }
  const record = value as TaskRecord;
  const issues: string[] = [];
  if (record.context.id !== id) {
    issues.push(`${where}.context.id is ${JSON.stringify(record.context.id)}, not the task's id ${JSON.stringify(id)}`);
  }
  jsonIssues(record.state, `${where}.state`, new Set(), issues, 1);
  jsonIssues(record.context, `${where}.context`, new Set(), issues, 1);
  return issues;
}

/**
 * Records must survive a trip through JSON unchanged, or the memory store and the file store
 * would disagree about what was stored. `undefined` object properties are tolerated (they are
 * how optional fields look in memory) and simply vanish on disk.
 */
function jsonIssues(value: unknown, where: string, ancestors: Set<object>, issues: string[], depth: number): void {
  if (issues.length >= MAX_ISSUES) return;
  if (depth >= MAX_RECORD_DEPTH && typeof value === 'object' && value !== null) {
    const at = where.length > 120 ? `${where.slice(0, 120)}…` : where;
    issues.push(`${at}: nested more than ${MAX_RECORD_DEPTH} levels deep`);
    return;
  }
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) issues.push(`${where}: ${value} is not representable in JSON`);
    return;
  }
  if (typeof value !== 'object') {
    issues.push(`${where}: a ${typeof value} is not representable in JSON`);
    return;
  }
  if (ancestors.has(value)) {
    issues.push(`${where}: circular reference`);
    return;
  }
  ancestors.add(value);
  if (Array.isArray(value)) {
    // An index loop, not forEach: a hole in a sparse array would come back as null.
    for (let index = 0; index < value.length; index++) {
      const item: unknown = value[index];
      if (item === undefined) issues.push(`${where}[${index}]: undefined is not representable in JSON`);
      else jsonIssues(item, `${where}[${index}]`, ancestors, issues, depth + 1);
    }
  } else {
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      issues.push(`${where}: only plain objects are representable in JSON`);
    } else {
      for (const [key, item] of Object.entries(value)) {
        if (item !== undefined) jsonIssues(item, `${where}.${key}`, ancestors, issues, depth + 1);
      }
    }
  }
  ancestors.delete(value);
}

/**
 * The quick form of the shape check above (taskRecordShape and the id), true only for records
 * that one accepts; anything unusual answers false and is left to it.
 */
function hasRecordShape(id: string, value: unknown): value is TaskRecord {
  if (id.length === 0 || typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const { state, context } = value as { state?: unknown; context?: unknown };
  let keys = 0;
  for (const key in value) {
    if (!Object.hasOwn(value, key)) return false;
    keys++;
  }
  if (keys !== 2 || !Object.hasOwn(value, 'state') || !Object.hasOwn(value, 'context')) return false;
  const stateOk =
    typeof state === 'string' ? state.length > 0 : typeof state === 'object' && state !== null && !Array.isArray(state);
  return stateOk && typeof context === 'object' && context !== null && !Array.isArray(context) && (context as { id?: unknown }).id === id;
}

/**
 * The quick form of jsonIssues: true when JSON.stringify writes `value` exactly (no NaN, no
 * undefined or hole in an array, no function, no object other than a plain one). Cycles are
 * not looked for: JSON.stringify, which runs first, throws on them.
 */
function isPlainJson(value: unknown, depth = 0): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value);
    case 'object': {
      if (value === null) return true;
      if (depth >= MAX_RECORD_DEPTH) return false;
      if (Array.isArray(value)) {
        for (let index = 0; index < value.length; index++) {
          const item: unknown = value[index];
          if (item === undefined || !isPlainJson(item, depth + 1)) return false;
        }
        return true;
      }
      const proto: unknown = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) return false;
      // for…in, not Object.entries: it allocates nothing, and plain objects inherit no enumerable keys.
      for (const key in value) {
        const item: unknown = (value as { [key: string]: unknown })[key];
        if (item !== undefined && !isPlainJson(item, depth + 1)) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

/**
 * The JSON text of a record to commit under `id`, or its problems pushed onto `issues`. One
 * JSON.stringify plus a walk that allocates nothing: about a third of what a zod parse, a
 * deep walk building paths and a structuredClone cost together (measured in .scratch/).
 */
export function recordText(id: string, value: unknown, where: string, issues: string[]): string | undefined {
  let text: string | undefined;
  try {
    if (hasRecordShape(id, value)) text = JSON.stringify(value);
  } catch {
    // A cycle or a BigInt: described by the thorough check below.
  }
  if (text !== undefined && isPlainJson(value)) return text;
  const problems = taskRecordIssues(id, value, where);
  if (problems.length > 0) {
    issues.push(...problems);
    return undefined;
  }
  // The thorough check passed what the quick one did not (an unusual but valid shape, such as
  // a record that is a class instance around plain state and context): its text is what is
  // kept, provided it reads back as a record (a toJSON method could make it anything).
  try {
    text = JSON.stringify(value);
    if (typeof text === 'string' && hasRecordShape(id, JSON.parse(text))) return text;
  } catch {
    // Reported below.
  }
  issues.push(`${where}: not representable in JSON`);
  return undefined;
}

/**
 * The JSON text of every record in a batch (null for a deletion), or INVALID_INPUT naming what
 * is wrong (with the faulty tasks' ids in `taskIds`). The whole batch is checked before any of it
 * is applied, so a commit is all-or-nothing; taken synchronously, so the caller may change its
 * objects as soon as commit() returns.
 */
export function recordTexts(changes: StoreChanges): Map<string, string | null> {
  const texts = new Map<string, string | null>();
  const issues: string[] = [];
  const faulty: string[] = [];
  for (const [id, record] of changes) {
    if (typeof id !== 'string') {
      issues.push(`task id ${String(id)} is not a string`);
    } else if (record === null) {
      texts.set(id, null);
    } else {
      const text = recordText(id, record, `task ${JSON.stringify(id)}`, issues);
      if (text !== undefined) texts.set(id, text);
      else faulty.push(id);
    }
  }
  // The faulty tasks are named so that a caller batching many tasks can drop just those.
  if (issues.length > 0) throw new InvalidInputError('store changes', summarise(issues), faulty);
  return texts;
}

/**
 * Problems with a record read back from a file: quickly, then thoroughly for the messages when
 * the quick check fails. JSON.parse builds only plain data, but a number too large for a
 * double comes back as Infinity, which the walk refuses as it would on commit.
 */
export function parsedRecordIssues(id: string, value: unknown, where: string): string[] {
  return hasRecordShape(id, value) && isPlainJson(value) ? [] : taskRecordIssues(id, value, where);
}

/** Keeps error messages readable when a large file has many bad records. */
export function summarise(issues: string[]): string[] {
  if (issues.length <= MAX_ISSUES) return issues;
  return [...issues.slice(0, MAX_ISSUES), `and ${issues.length - MAX_ISSUES} more`];
}

/** The store meta to commit, copied, or INVALID_INPUT. */
export function checkedMeta(meta: StoreMeta): StoreMeta {
  const floor: unknown = (meta as Partial<StoreMeta> | null)?.epochFloor;
  if (typeof floor !== 'number' || !Number.isSafeInteger(floor) || floor < 0) {
    throw new InvalidInputError('store meta', ['epochFloor: expected a non-negative safe integer']);
  }
  return { epochFloor: floor };
}
