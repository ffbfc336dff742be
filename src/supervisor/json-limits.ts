// How large a free-form JSON argument may be (spec, metadata values, result, compensation args,
// policy): at most MAX_JSON_DEPTH levels of nesting and MAX_JSON_BYTES of JSON text. Checked
// first, by a walk that keeps its own stack, so that nothing recursive (zod, the "__proto__"
// walk, JSON.stringify, the copies handed back) ever meets a value deep enough to overflow the
// call stack: a caller gets INVALID_INPUT naming the field, not a RangeError.
import { z } from 'zod';
import type { Json } from '../../machines/task.types.js';

/** Levels of nesting: `{}` and `[]` are one level, `{"a":[1]}` two. */
export const MAX_JSON_DEPTH = 64;
/** UTF-8 bytes of the value's JSON text. */
const MAX_JSON_BYTES = 1024 * 1024;

/**
 * What is wrong with the size of `value`, or undefined. A value that refers to itself is
 * reported as too deep here (the walk never ends otherwise).
 */
export function jsonLimitIssue(value: unknown): string | undefined {
  const pending: [unknown, number][] = [[value, 0]];
  while (pending.length > 0) {
    const [item, depth] = pending.pop()!;
    if (item === null || typeof item !== 'object') continue;
    if (depth >= MAX_JSON_DEPTH) return `nested more than ${MAX_JSON_DEPTH} levels deep (or refers to itself)`;
    for (const child of Array.isArray(item) ? item : Object.values(item)) pending.push([child, depth + 1]);
  }
  let text: string | undefined;
  try {
    // Safe now: at most MAX_JSON_DEPTH levels.
    text = JSON.stringify(value);
  } catch {
    // A BigInt or the like: the JSON schema describes it.
    return undefined;
  }
  if (text !== undefined && (text.length > MAX_JSON_BYTES || Buffer.byteLength(text) > MAX_JSON_BYTES)) {
    return `larger than 1 MiB as JSON text (${Buffer.byteLength(text)} bytes; at most ${MAX_JSON_BYTES})`;
  }
  return undefined;
}

const anyJson = z.json();

/**
 * A free-form JSON field: bounded first, then checked (and copied: the caller keeps its object)
 * by zod's JSON schema.
 */
export const boundedJson = z.unknown().transform((value, ctx) => {
  const issue = jsonLimitIssue(value);
  if (issue !== undefined) {
    ctx.addIssue({ code: 'custom', message: issue, input: value });
    return z.NEVER;
  }
  const parsed = anyJson.safeParse(value);
  if (parsed.success) return parsed.data as Json;
  for (const problem of parsed.error.issues) ctx.addIssue({ ...problem, input: value } as never);
  return z.NEVER;
}) as unknown as z.ZodType<Json>;
