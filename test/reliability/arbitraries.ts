// fast-check arbitraries for the input fuzzing trials (issue 7, item 4): arbitrary JSON,
// values that are not JSON at all, and JSON objects whose keys include the prototype names
// (`__proto__`, `constructor`, `prototype`, …) as real own keys, the way JSON.parse makes
// them. Each API argument mixes plausible values (so that some calls get past validation
// and reach the machines) with arbitrary ones.
import fc from 'fast-check';

/** Keys that mean something to JavaScript objects. */
export const PROTOTYPE_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', 'then', '__defineGetter__'] as const;

const key = fc.oneof({ weight: 2, arbitrary: fc.constantFrom(...PROTOTYPE_KEYS) }, { weight: 3, arbitrary: fc.string({ maxLength: 6 }) });

/**
 * JSON text whose objects may hold prototype-named keys, parsed: JSON.parse creates an own
 * "__proto__" data property, exactly what a request body or a CLI argument would carry.
 */
export const jsonWithPrototypeKeys: fc.Arbitrary<unknown> = fc
  .letrec<{ node: string }>((tie) => ({
    node: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.jsonValue({ maxDepth: 1 }).map((v) => JSON.stringify(v)),
      fc.array(tie('node'), { maxLength: 3 }).map((items) => `[${items.join(',')}]`),
      fc
        .array(fc.tuple(key, tie('node')), { maxLength: 4 })
        .map((entries) => `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`),
    ),
  }))
  .node.map((text) => JSON.parse(text) as unknown);

/** Values that are not JSON: undefined, NaN, Infinity, bigint, Date, Map, functions, symbols, sparse arrays. */
const notJson = fc.oneof(
  fc.constantFrom(undefined, Number.NaN, Number.POSITIVE_INFINITY, -0, Symbol('s'), () => 1, new Date(0), new Map([[1, 2]]), new Set([1])),
  fc.bigInt(),
  fc.anything({ withBigInt: true, withDate: true, withMap: true, withSet: true, withSparseArray: true, withNullPrototype: true, withBoxedValues: true, withTypedArray: true, maxDepth: 2 }),
);

/** Anything a caller could pass: mostly JSON (with prototype keys), sometimes not JSON at all. */
export const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 3, arbitrary: jsonWithPrototypeKeys },
  { weight: 2, arbitrary: notJson },
);

/** A plausible value half of the time, anything the other half. */
export const or = <T>(plausible: fc.Arbitrary<T>) => fc.oneof(plausible, anyValue);

export const taskIds = ['planned', 'leased', 'done', 'expired', 'missing'] as const;
export const id = or(fc.constantFrom<unknown>(...taskIds, '', '  ', '__proto__', 'constructor', 'x'.repeat(600)));
export const owner = or(fc.constantFrom<unknown>('agent', 'other', '', ' '));
export const epoch = or(fc.constantFrom<unknown>(1, 2, 0, -1, 1.5, Number.MAX_SAFE_INTEGER));
export const duration = or(fc.oneof(fc.constantFrom<unknown>(1, 1_000, 60_000, 0, -5), fc.double(), fc.integer()));
export const progress = or(fc.oneof(fc.constantFrom<unknown>(0, 50, 100, 101, -1), fc.double({ min: -10, max: 110 })));
export const text = or(fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom<unknown>('', 'x'.repeat(10_001))));
export const json = anyValue;

/**
 * An options object with any subset of `fields` (each from its arbitrary), sometimes an
 * unknown or prototype-named extra key, and sometimes not an object at all.
 */
export function options(fields: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<unknown> {
  const record = fc.record(fields, { requiredKeys: [] });
  const withExtra = fc.tuple(record, key, anyValue).map(([base, k, v]) => {
    const copy: Record<string, unknown> = { ...base };
    Object.defineProperty(copy, k, { value: v, enumerable: true, writable: true, configurable: true });
    return copy;
  });
  return fc.oneof({ weight: 5, arbitrary: record }, { weight: 1, arbitrary: withExtra }, { weight: 1, arbitrary: anyValue });
}
