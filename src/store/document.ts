// The JSON snapshot's format: formatVersion 1 (tasks only, what a store without a journal
// writes) and formatVersion 2 (plus `journalSeq`, the last journal entry the snapshot holds).
// Owns building a document from records and reading one back, refusing anything malformed.

import { z } from 'zod';
import { summarise, taskRecordIssues } from './records.js';
import type { TaskRecord } from './types.js';

/** The snapshot alone holds every task: no journal has ever been written beside it. */
export const PLAIN_FORMAT = 1;
/** The snapshot holds every journal entry up to `journalSeq`; later ones are replayed from the journal. */
export const JOURNALED_FORMAT = 2;

export type StoreDocument =
  | { formatVersion: typeof PLAIN_FORMAT; tasks: { [id: string]: TaskRecord } }
  | { formatVersion: typeof JOURNALED_FORMAT; journalSeq: number; tasks: { [id: string]: TaskRecord } };

export interface ParsedDocument {
  tasks: Map<string, TaskRecord>;
  /** null for formatVersion 1, which predates the journal (nothing in a journal is in it). */
  journalSeq: number | null;
}

const tasksShape = z.record(z.string(), z.unknown(), { error: 'must be an object mapping task ids to records' });
const shapes = {
  [PLAIN_FORMAT]: z.strictObject({ formatVersion: z.literal(PLAIN_FORMAT), tasks: tasksShape }),
  [JOURNALED_FORMAT]: z.strictObject({
    formatVersion: z.literal(JOURNALED_FORMAT),
    journalSeq: z.number().int().nonnegative(),
    tasks: tasksShape,
  }),
};
const SUPPORTED = `formatVersion ${PLAIN_FORMAT} and ${JOURNALED_FORMAT}`;

/**
 * An object without a prototype whose keys are set by defineProperty, so that an id such as
 * "__proto__" is stored (and serialised) as data.
 */
export function plainObject<T>(entries: Iterable<readonly [string, T]>): { [key: string]: T } {
  const object = Object.create(null) as { [key: string]: T };
  for (const [key, value] of entries) {
    Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
  }
  return object;
}

/** The document for `tasks`; a null `journalSeq` writes formatVersion 1. */
export function toDocument(tasks: Map<string, TaskRecord>, journalSeq: number | null): StoreDocument {
  return journalSeq === null
    ? { formatVersion: PLAIN_FORMAT, tasks: plainObject(tasks) }
    : { formatVersion: JOURNALED_FORMAT, journalSeq, tasks: plainObject(tasks) };
}

/** The tasks of a parsed snapshot, or a description of what is wrong with it. */
export function parseDocument(raw: unknown): ParsedDocument | string {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return 'the top level is not a JSON object';
  const document = raw as { [key: string]: unknown };
  // The version is checked first: a newer format may differ in every other respect.
  if (!Object.hasOwn(document, 'formatVersion')) return `formatVersion is missing (this version supports ${SUPPORTED})`;
  const version = document.formatVersion;
  if (version !== PLAIN_FORMAT && version !== JOURNALED_FORMAT) {
    return `it has formatVersion ${JSON.stringify(version)}, but this version supports only ${SUPPORTED}`;
  }
  const shape = shapes[version].safeParse(raw);
  if (!shape.success) {
    return summarise(
      shape.error.issues.map((issue) => `${issue.path.length === 0 ? 'document' : issue.path.map(String).join('.')}: ${issue.message}`),
    ).join('; ');
  }
  // Read from the parsed JSON itself: zod's record output leaves out a "__proto__" key.
  const tasks = recordsOf(document.tasks as { [id: string]: unknown }, (id) => `tasks[${JSON.stringify(id)}]`);
  if (typeof tasks === 'string') return tasks;
  return { tasks, journalSeq: version === JOURNALED_FORMAT ? (document.journalSeq as number) : null };
}

/** Validated records from a parsed JSON object (`null` values meaning deletions when allowed). */
export function recordsOf(object: { [id: string]: unknown }, where: (id: string) => string): Map<string, TaskRecord> | string;
export function recordsOf(
  object: { [id: string]: unknown },
  where: (id: string) => string,
  deletions: true,
): Map<string, TaskRecord | null> | string;
export function recordsOf(object: { [id: string]: unknown }, where: (id: string) => string, deletions = false) {
  const result = new Map<string, TaskRecord | null>();
  const issues: string[] = [];
  for (const [id, value] of Object.entries(object)) {
    if (deletions && value === null) {
      result.set(id, null);
      continue;
    }
    const problems = taskRecordIssues(id, value, where(id));
    if (problems.length > 0) issues.push(...problems);
    else result.set(id, value as TaskRecord);
  }
  return issues.length > 0 ? summarise(issues).join('; ') : result;
}
