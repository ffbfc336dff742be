// How the `leasehold` command reads the values it is given: its global options, option parsers
// (a malformed value is a usage error, INVALID_INPUT with exit 2, before any store is opened),
// the small `action=<json>` and `key=value` forms some commands take, and the examples in help.
import { InvalidArgumentError } from 'commander';
import type { Json } from '../index.js';

/** The options every command is given (before the command's name). */
export interface GlobalOptions {
  store: string;
  /** Where a PostgreSQL store's side files (the daemon file) live (store-target.ts). */
  stateDir: string;
  json: boolean;
  wait: number;
  url?: string;
}

/** The "Examples:" section of a command's help. */
export const examples = (...lines: string[]) => `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}`;

export const number = (value: string) => {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError('expected a number');
  return n;
};
export const json = (value: string): Json => {
  try {
    return JSON.parse(value) as Json;
  } catch {
    throw new InvalidArgumentError('expected JSON, e.g. \'{"branch":"fix/login"}\'');
  }
};
export const collect = (value: string, previous: string[] = []) => [...previous, value];

/** `action` or `action=<json>`. */
export function compensationSpec(spec: string): { action: string; args?: Json } {
  const at = spec.indexOf('=');
  if (at < 0) return { action: spec };
  return { action: spec.slice(0, at), args: json(spec.slice(at + 1)) };
}

/** `key=value`, the value read as JSON when it parses (`n=3`, `ok=true`), else as text. */
export function metadataPair(pair: string): [string, Json] {
  const at = pair.indexOf('=');
  if (at <= 0) throw new InvalidArgumentError(`expected key=value, got "${pair}"`);
  const raw = pair.slice(at + 1);
  try {
    return [pair.slice(0, at), JSON.parse(raw) as Json];
  } catch {
    return [pair.slice(0, at), raw];
  }
}
