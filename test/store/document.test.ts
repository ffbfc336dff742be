// The snapshot format: one task per line, read back line by line (each task's place in the file
// kept) when it has that layout and as whole JSON otherwise. The line reader must agree with
// JSON.parse of the whole file on every input — written, hand-edited or damaged.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ENTRY_SEPARATOR, entryText, parseSnapshot, snapshotFooter, snapshotHeader, type ParsedSnapshot } from '../../src/store/document.js';
import type { TaskRecord } from '../../src/store/types.js';

const snapshotOf = (entries: string[], journalSeq: number | null) =>
  Buffer.from(snapshotHeader({ journalSeq, epochFloor: 0 }) + entries.join(ENTRY_SEPARATOR) + snapshotFooter(entries.length));

/** Each task's entry text, read from the file where the reader said it lies. */
const textsOf = (parsed: ParsedSnapshot, bytes: Buffer) =>
  [...parsed.entries].map(([id, entry]) => [id, typeof entry === 'string' ? entry : bytes.toString('utf8', entry.at, entry.at + entry.length)] as const);

/** The same bytes read as whole JSON: a leading newline leaves an empty first line, never the line layout. */
const parsedWhole = (bytes: Buffer) => parseSnapshot(Buffer.concat([Buffer.from('\n'), bytes]));

/** Records as comparable data: sorted by id, own "__proto__" keys included, -0 as 0. */
function canonical(parsed: ParsedSnapshot | string, bytes: Buffer) {
  // Refusals are compared by kind only: a message may point one byte further in the padded copy.
  if (typeof parsed === 'string') return 'refused';
  const sort = (value: unknown): unknown =>
    Array.isArray(value)
      ? value.map(sort)
      : typeof value === 'object' && value !== null
        ? Object.keys(value)
            .sort()
            .map((key) => [key, sort((value as Record<string, unknown>)[key])])
        : Object.is(value, -0)
          ? 0 // 1e-999 reads as -0 or 0 depending on its sign; JSON has no -0 to tell them apart
          : value;
  return {
    journalSeq: parsed.journalSeq,
    records: sort(Object.fromEntries(parsed.records)),
    entries: textsOf(parsed, bytes)
      .map(([id, entry]) => [id, sort(JSON.parse(`{${entry}}`))])
      .sort(([a], [b]) => (String(a) < String(b) ? -1 : 1)),
  };
}

const ids = fc.oneof(fc.string({ minLength: 1, maxLength: 6 }), fc.constantFrom('__proto__', 'constructor', 'a"b', 'back\\slash', 'new\nline', '✓', '12'));
const record = (id: string, value: unknown): TaskRecord => ({ state: 'planned', context: { id, value } });
const tasks = fc.uniqueArray(fc.tuple(ids, fc.jsonValue({ maxDepth: 2 })), { selector: ([id]) => id, maxLength: 6 });

describe('snapshot', () => {
  it('is laid out compact, one task per line', () => {
    const entries = [entryText('a', '{"state":"planned","context":{"id":"a"}}'), entryText('__proto__', '{"state":"done","context":{"id":"__proto__"}}')];
    const text = snapshotOf(entries, 3).toString();
    expect(text).toBe(
      '{"formatVersion":2,"journalSeq":3,"tasks":{\n"a":{"state":"planned","context":{"id":"a"}},\n"__proto__":{"state":"done","context":{"id":"__proto__"}}\n}}\n',
    );
    expect(snapshotOf([], null).toString()).toBe('{"formatVersion":1,"tasks":{\n}}\n');
  });

  it('reads back what it wrote, each task with its text, for any ids and records', () => {
    fc.assert(
      fc.property(tasks, fc.option(fc.nat(), { nil: null }), (list, journalSeq) => {
        const entries = list.map(([id, value]) => entryText(id, JSON.stringify(record(id, value))));
        const bytes = snapshotOf(entries, journalSeq);
        const parsed = parseSnapshot(bytes);
        if (typeof parsed === 'string') throw new Error(parsed);
        expect(textsOf(parsed, bytes)).toEqual(list.map(([id], index) => [id, entries[index]]));
        expect(canonical(parsed, bytes)).toEqual(canonical(parsedWhole(bytes), Buffer.concat([Buffer.from('\n'), bytes])));
      }),
      { numRuns: 500 },
    );
  });

  it('is read line by line: a task is kept as its place in the file', () => {
    const entry = '"a":{ "state" : "planned", "context": {"id":"a"} }';
    const parsed = parseSnapshot(Buffer.from(`{"formatVersion":1,"tasks":{\n${entry}\n}}\n`));
    if (typeof parsed === 'string') throw new Error(parsed);
    expect(parsed.entries.get('a')).toEqual({ at: '{"formatVersion":1,"tasks":{\n'.length, length: entry.length });
    // Whole-file reading makes the text anew.
    const whole = parsedWhole(Buffer.from(`{"formatVersion":1,"tasks":{\n${entry}\n}}\n`));
    if (typeof whole === 'string') throw new Error(whole);
    expect(whole.entries.get('a')).toBe('"a":{"state":"planned","context":{"id":"a"}}');
  });

  it('agrees with JSON.parse of the whole file whatever was done to it', () => {
    const edits = fc.oneof(
      fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
      fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: fc.constantFrom(',', '\n', ' ', '{', '}', '"', ':', '\\', 'x', '1', '\r', ',\n', '}}\n') }),
      fc.record({ kind: fc.constant('repeat line' as const), at: fc.nat() }),
    );
    fc.assert(
      fc.property(tasks, fc.option(fc.nat(), { nil: null }), fc.array(edits, { minLength: 1, maxLength: 3 }), (list, journalSeq, changes) => {
        let text = snapshotOf(
          list.map(([id, value]) => entryText(id, JSON.stringify(record(id, value)))),
          journalSeq,
        ).toString();
        for (const change of changes) {
          const at = change.at % (text.length + 1);
          if (change.kind === 'delete') text = text.slice(0, at) + text.slice(at + 1);
          else if (change.kind === 'insert') text = text.slice(0, at) + change.text + text.slice(at);
          else {
            const lines = text.split('\n');
            const line = at % lines.length;
            lines.splice(line, 0, lines[line]!);
            text = lines.join('\n');
          }
        }
        const bytes = Buffer.from(text);
        const lineByLine = parseSnapshot(bytes);
        const whole = parsedWhole(bytes);
        expect(typeof lineByLine === 'string', text).toBe(typeof whole === 'string');
        expect(canonical(lineByLine, bytes), text).toEqual(canonical(whole, bytes));
      }),
      { numRuns: 3_000 },
    );
  });

  it('reads the older indented layout and formatVersion 1', () => {
    const document = { formatVersion: 2, journalSeq: 4, tasks: { a: record('a', [1, { b: null }]), __proto__: record('__proto__', 'x') } };
    const indented = JSON.stringify(document, null, 2).replace('"tasks": {', '"tasks": {"__proto__": {"state":"planned","context":{"id":"__proto__","value":"x"}},');
    const parsed = parseSnapshot(Buffer.from(indented));
    if (typeof parsed === 'string') throw new Error(parsed);
    expect(parsed.journalSeq).toBe(4);
    expect([...parsed.records.keys()].sort()).toEqual(['__proto__', 'a']);
    expect(parsed.entries.get('__proto__')).toBe('"__proto__":{"state":"planned","context":{"id":"__proto__","value":"x"}}');
    const v1 = parseSnapshot(Buffer.from(JSON.stringify({ formatVersion: 1, tasks: { a: record('a', 1) } }, null, 2)));
    expect(typeof v1 !== 'string' && v1.journalSeq).toBe(null);
  });
});
