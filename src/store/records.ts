// What counts as a well-formed task record, shared by every store so that a record one store
// accepts on commit is one any store will read back (and the JSON file never holds data it
// would later refuse as corrupt).

import { z } from 'zod';
import { InvalidInputError } from '../errors.js';
import type { StoreChanges, TaskRecord } from './types.js';

// zod's record/object parsers skip "__proto__" keys (to protect the object they build), so zod
// only checks shapes here; task ids and the values we keep are taken from the input itself.
const taskRecordShape = z.strictObject({
  state: z.union([z.string().min(1), z.record(z.string(), z.unknown())], {
    error: 'must be a non-empty string or an object',
  }),
  context: z.looseObject({ id: z.string() }),
});

const MAX_ISSUES = 5;

/** Problems with one record stored under `id`; `where` prefixes each message. */
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
  jsonIssues(record.state, `${where}.state`, new Set(), issues);
  jsonIssues(record.context, `${where}.context`, new Set(), issues);
  return issues;
}

/**
 * Records must survive a trip through JSON unchanged, or the memory store and the file store
 * would disagree about what was stored. `undefined` object properties are tolerated (they are
 * how optional fields look in memory) and simply vanish on disk.
 */
function jsonIssues(value: unknown, where: string, ancestors: Set<object>, issues: string[]): void {
  if (issues.length >= MAX_ISSUES) return;
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
    value.forEach((item, index) => {
      if (item === undefined) issues.push(`${where}[${index}]: undefined is not representable in JSON`);
      else jsonIssues(item, `${where}[${index}]`, ancestors, issues);
    });
  } else {
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      issues.push(`${where}: only plain objects are representable in JSON`);
    } else {
      for (const [key, item] of Object.entries(value)) {
        if (item !== undefined) jsonIssues(item, `${where}.${key}`, ancestors, issues);
      }
    }
  }
  ancestors.delete(value);
}

/** Rejects a whole batch before any of it is applied, so a commit is all-or-nothing. */
export function assertValidChanges(changes: StoreChanges): void {
  const issues: string[] = [];
  for (const [id, record] of changes) {
    if (typeof id !== 'string') {
      issues.push(`task id ${String(id)} is not a string`);
    } else if (record !== null) {
      issues.push(...taskRecordIssues(id, record, `task ${JSON.stringify(id)}`));
    }
  }
  if (issues.length > 0) throw new InvalidInputError('store changes', summarise(issues));
}

/** Keeps error messages readable when a large file has many bad records. */
export function summarise(issues: string[]): string[] {
  if (issues.length <= MAX_ISSUES) return issues;
  return [...issues.slice(0, MAX_ISSUES), `and ${issues.length - MAX_ISSUES} more`];
}

/** Copies records so that neither the caller nor the store can change the other's data. */
export function copyRecords(records: Iterable<[string, TaskRecord]>): Map<string, TaskRecord> {
  const copy = new Map<string, TaskRecord>();
  for (const [id, record] of records) copy.set(id, structuredClone(record));
  return copy;
}
