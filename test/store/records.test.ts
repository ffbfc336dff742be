// The check that decides which records a store accepts: its quick path (JSON.stringify plus a
// walk that allocates nothing) must accept exactly what the thorough check (zod and a walk
// describing every problem) accepts, and an accepted record's text must read back as the
// record itself.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { recordText, recordTexts, taskRecordIssues } from '../../src/store/records.js';
import { rejection } from '../support.js';

/** What JSON.parse(JSON.stringify(value)) must give: undefined properties gone, -0 as 0. */
function asJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(asJson);
  if (typeof value === 'object' && value !== null) {
    return Object.entries(value)
      .filter(([, item]) => item !== undefined)
      .map(([key, item]) => [key, asJson(item)]);
  }
  return Object.is(value, -0) ? 0 : value;
}

const notJson = fc.anything({
  withBigInt: true,
  withDate: true,
  withMap: true,
  withSet: true,
  withSparseArray: true,
  withNullPrototype: true,
  withBoxedValues: true,
  withTypedArray: true,
  withObjectString: true,
  maxDepth: 3,
});

const ids = fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('__proto__', 'constructor', 'a"b\\c\nd', '✓ ünïcødé', '\ud800'));

describe('recordText', () => {
  it('accepts exactly what the thorough check accepts, and the text reads back as the record', () => {
    fc.assert(
      fc.property(ids, notJson, notJson, fc.boolean(), (id, value, state, plainState) => {
        const record = { state: plainState ? 'planned' : state, context: { id, value } };
        const issues: string[] = [];
        const text = recordText(id, record, 'task', issues);
        const thorough = taskRecordIssues(id, record, 'task');
        expect(text === undefined, `quick and thorough disagree: ${thorough.join('; ')}`).toBe(thorough.length > 0);
        if (text !== undefined) expect(asJson(JSON.parse(text))).toEqual(asJson(record));
        else expect(issues.length).toBeGreaterThan(0);
      }),
      { numRuns: 2_000 },
    );
  });

  const circular: Record<string, unknown> = { id: 'x' };
  circular.self = circular;
  const cycleInArray: unknown[] = [];
  cycleInArray.push(cycleInArray);
  class Point {
    constructor(readonly x: number) {}
  }
  const refused: [string, unknown, string][] = [
    ['Infinity', { state: 's', context: { id: 'x', n: Infinity } }, 'Infinity is not representable'],
    ['NaN deep down', { state: 's', context: { id: 'x', a: [{ b: Number.NaN }] } }, 'context.a[0].b'],
    ['undefined in an array', { state: 's', context: { id: 'x', a: [1, undefined] } }, 'context.a[1]'],
    // eslint-disable-next-line no-sparse-arrays
    ['a hole in an array', { state: 's', context: { id: 'x', a: [1, , 3] } }, 'context.a[1]'],
    ['a circular object', { state: 's', context: circular }, 'circular reference'],
    ['a circular array', { state: 's', context: { id: 'x', a: cycleInArray } }, 'circular reference'],
    ['a Map', { state: 's', context: { id: 'x', m: new Map() } }, 'only plain objects'],
    ['a class instance', { state: 's', context: { id: 'x', p: new Point(1) } }, 'only plain objects'],
    ['a BigInt', { state: 's', context: { id: 'x', n: 1n } }, 'bigint'],
    ['a toJSON method', { state: 's', context: { id: 'x', o: { toJSON: () => 'other' } } }, 'function'],
    ['a context that is an array', { state: 's', context: Object.assign([], { id: 'x' }) }, 'context'],
    ['an extra key beside state and context', { state: 's', context: { id: 'x' }, extra: 1 }, 'extra'],
    ['a state that is an array', { state: ['s'], context: { id: 'x' } }, 'state'],
    ['a context.id of another task', { state: 's', context: { id: 'y' } }, 'context.id'],
  ];
  for (const [name, record, mention] of refused) {
    it(`refuses ${name}, saying where`, () => {
      const issues: string[] = [];
      expect(recordText('x', record, 'task "x"', issues)).toBeUndefined();
      expect(issues.join('; ')).toContain(mention);
    });
  }

  it('keeps own "__proto__" keys and null-prototype objects as data, and drops undefined properties', () => {
    const context = JSON.parse('{"id":"x","__proto__":{"polluted":true},"deep":{"__proto__":[1]}}') as Record<string, unknown>;
    context.nothing = undefined;
    context.bare = Object.assign(Object.create(null) as object, { a: 1 });
    const text = recordText('x', { state: 'planned', context }, 'task', [])!;
    expect(text).toBe('{"state":"planned","context":{"id":"x","__proto__":{"polluted":true},"deep":{"__proto__":[1]},"bare":{"a":1}}}');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('recordTexts', () => {
  it('checks the whole batch first and names every bad record', async () => {
    const error = await rejection(
      Promise.resolve().then(() =>
        recordTexts(
          new Map<string, unknown>([
            ['ok', { state: 's', context: { id: 'ok' } }],
            ['bad', { state: 's', context: { id: 'bad', n: Number.NaN } }],
            ['gone', null],
            ['other', { state: '', context: { id: 'other' } }],
          ]) as never,
        ),
      ),
    );
    expect(error.code).toBe('INVALID_INPUT');
    expect(error.message).toContain('task "bad".context.n');
    expect(error.message).toContain('task "other".state');
  });
});
