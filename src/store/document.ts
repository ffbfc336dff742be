// The JSON snapshot's format: formatVersion 1 (tasks only, what a store without a journal
// writes) and formatVersion 2 (plus `journalSeq`, the last journal entry the snapshot holds);
// either may carry `epochFloor` (see StoreMeta), written only once it is above 0.
// Owns the layout written — compact, one task per line — and reading a snapshot back, in that
// layout or any other JSON one (the old indented files), refusing anything malformed.
//
//   {"formatVersion":2,"journalSeq":7,"tasks":{
//   "a":{"state":"planned","context":{"id":"a",…}},
//   "b":{"state":"leased","context":{"id":"b",…}}
//   }}

import { z } from 'zod';
import { parsedRecordIssues, summarise } from './records.js';
import type { TaskRecord } from './types.js';

/** The snapshot alone holds every task: no journal has ever been written beside it. */
const PLAIN_FORMAT = 1;
/** The snapshot holds every journal entry up to `journalSeq`; later ones are replayed from the journal. */
const JOURNALED_FORMAT = 2;

/** Where one task's entry text lies in a snapshot file, in bytes. */
export interface ByteRange {
  readonly at: number;
  readonly length: number;
}

export interface ParsedSnapshot {
  /** Fresh objects, the caller's to keep. */
  records: Map<string, TaskRecord>;
  /**
   * The same tasks, in the same order, as entry texts (see entryText): where they lie in the
   * file when it has the one-task-per-line layout, else made anew.
   */
  entries: Map<string, string | ByteRange>;
  /** null for formatVersion 1, which predates the journal (nothing in a journal is in it). */
  journalSeq: number | null;
  epochFloor: number;
}

/** What a snapshot's first line says besides its format. */
export interface SnapshotHead {
  /** null writes formatVersion 1. */
  journalSeq: number | null;
  epochFloor: number;
}

/** One task as the snapshot and the journal write it: `"<id>":<record JSON>`. */
export function entryText(id: string, recordText: string): string {
  return `${JSON.stringify(id)}:${recordText}`;
}

/** The first line of a snapshot, newline included; a null `journalSeq` is formatVersion 1. */
export function snapshotHeader({ journalSeq, epochFloor }: SnapshotHead): string {
  const floor = epochFloor > 0 ? `"epochFloor":${epochFloor},` : '';
  return journalSeq === null
    ? `{"formatVersion":${PLAIN_FORMAT},${floor}"tasks":{\n`
    : `{"formatVersion":${JOURNALED_FORMAT},"journalSeq":${journalSeq},${floor}"tasks":{\n`;
}

/** Between two entries: each task on a line of its own. */
export const ENTRY_SEPARATOR = ',\n';

/** What closes a snapshot after its last entry. */
export function snapshotFooter(entries: number): string {
  return entries === 0 ? '}}\n' : '\n}}\n';
}

const tasksShape = z.custom<{ [id: string]: unknown }>((value) => typeof value === 'object' && value !== null && !Array.isArray(value), {
  error: 'must be an object mapping task ids to records',
});
export const epochFloorShape = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const shapes = {
  [PLAIN_FORMAT]: z.strictObject({ formatVersion: z.literal(PLAIN_FORMAT), epochFloor: epochFloorShape.optional(), tasks: tasksShape }),
  [JOURNALED_FORMAT]: z.strictObject({
    formatVersion: z.literal(JOURNALED_FORMAT),
    journalSeq: z.number().int().nonnegative(),
    epochFloor: epochFloorShape.optional(),
    tasks: tasksShape,
  }),
};
const SUPPORTED = `formatVersion ${PLAIN_FORMAT} and ${JOURNALED_FORMAT}`;

/** The snapshot in `bytes`, or a description of what is wrong with it. */
export function parseSnapshot(bytes: Buffer): ParsedSnapshot | string {
  // The layout this module writes is read line by line, which yields each task's text as well
  // as its record; anything else (older indented files, hand edits, damage) is parsed whole.
  return parseLines(bytes) ?? parseWhole(bytes);
}

function parseWhole(bytes: Buffer): ParsedSnapshot | string {
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    return `it is not valid JSON (${error instanceof Error ? error.message : String(error)})`;
  }
  const head = documentHead(raw);
  if (typeof head === 'string') return head;
  // Read from the parsed JSON itself: zod's record output leaves out a "__proto__" key.
  const records = recordsOf((raw as { tasks: { [id: string]: unknown } }).tasks, (id) => `tasks[${JSON.stringify(id)}]`);
  if (typeof records === 'string') return records;
  const entries = new Map<string, string | ByteRange>();
  for (const [id, record] of records) entries.set(id, entryText(id, JSON.stringify(record)));
  return { records, entries, ...head };
}

/** Checks everything but the tasks themselves; returns the journalSeq and floor, or what is wrong. */
function documentHead(raw: unknown): SnapshotHead | string {
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
  return {
    journalSeq: version === JOURNALED_FORMAT ? (document.journalSeq as number) : null,
    epochFloor: (document.epochFloor as number | undefined) ?? 0,
  };
}

const NEWLINE = 0x0a;
const COMMA = 0x2c;
const FOOTER = '}}';

/**
 * The one-task-per-line layout, or undefined as soon as anything differs from it (the caller
 * then parses the whole file and finds what is wrong, or reads it as the JSON it is). Accepts
 * exactly what JSON.parse of the whole file would give: the header line plus `}}` parses as
 * the document without its tasks, every task line is `<JSON string>:<JSON object>`, commas
 * between them, and `}}` and a newline end the file.
 */
function parseLines(bytes: Buffer): ParsedSnapshot | undefined {
  let end = bytes.indexOf(NEWLINE);
  // A header is a few dozen bytes; a long first line is some other layout.
  if (end < 0 || end > 256) return undefined;
  const header = bytes.toString('utf8', 0, end);
  if (!header.endsWith('"tasks":{')) return undefined;
  let head: SnapshotHead | string;
  try {
    head = documentHead(JSON.parse(`${header}${FOOTER}`));
  } catch {
    return undefined;
  }
  if (typeof head === 'string') return undefined;
  const records = new Map<string, TaskRecord>();
  const entries = new Map<string, string | ByteRange>();
  // What may come next: a task or the footer (after the header), a task (after a comma), the footer.
  let next: 'any' | 'task' | 'footer' = 'any';
  for (let start = end + 1; ; start = end + 1) {
    end = bytes.indexOf(NEWLINE, start);
    if (end < 0) return undefined;
    if (end - start === FOOTER.length && bytes.toString('latin1', start, end) === FOOTER) {
      // The footer ends the file: nothing may follow it, not even whitespace.
      return next !== 'task' && end + 1 === bytes.length ? { records, entries, ...head } : undefined;
    }
    if (next === 'footer') return undefined;
    const comma = bytes[end - 1] === COMMA;
    next = comma ? 'task' : 'footer';
    const length = (comma ? end - 1 : end) - start;
    const task = parseEntry(bytes.toString('utf8', start, start + length));
    if (task === undefined || parsedRecordIssues(task.id, task.record, '').length > 0) return undefined;
    records.set(task.id, task.record as TaskRecord);
    // Its place in the file, not its text: the store copies it from there when it writes the next snapshot.
    entries.set(task.id, { at: start, length });
  }
}

/** `"<id>":{…}` → its id and record, or undefined when it is not exactly that. */
function parseEntry(entry: string): { id: string; record: unknown } | undefined {
  if (entry.charCodeAt(0) !== 0x22) return undefined;
  let close = -1;
  for (let index = 1; index < entry.length; index++) {
    const code = entry.charCodeAt(index);
    if (code === 0x5c) index++;
    else if (code === 0x22) {
      close = index;
      break;
    }
  }
  if (close < 0 || entry.charCodeAt(close + 1) !== 0x3a || entry.charCodeAt(close + 2) !== 0x7b) return undefined;
  try {
    const id: unknown = JSON.parse(entry.slice(0, close + 1));
    const record: unknown = JSON.parse(entry.slice(close + 2));
    return typeof id === 'string' ? { id, record } : undefined;
  } catch {
    return undefined;
  }
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
    const problems = parsedRecordIssues(id, value, where(id));
    if (problems.length > 0) issues.push(...problems);
    else result.set(id, value as TaskRecord);
  }
  return issues.length > 0 ? summarise(issues).join('; ') : result;
}
