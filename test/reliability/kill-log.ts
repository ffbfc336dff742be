// The side files of the kill -9 trials, shared by the worker that writes them and the test
// that reads them: one NDJSON line per acknowledged call (written and fsynced before the
// worker's owner does anything else, so a line on disk means the call's promise resolved),
// plus an `intent` line written (and fsynced) just before each call that ends a lease — a kill
// can land after such a call became durable but before its acknowledgement was logged, and the
// lease then ended although nobody was told — and one line per compensation run (start, end,
// or a deliberate failure). A last line cut short by the kill was never complete, so it is
// dropped.
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import type { Json, Lease } from '../../src/index.js';

export interface WorkerConfig {
  /** The store's file, or for postgres its schema (the server's connection string comes through the environment). */
  store: string;
  kind: 'json' | 'journal' | 'postgres';
  /** Journal only: compact this often, so that kills land during compaction too. */
  compactBytes?: number;
  acks: string;
  runs: string;
  seed: number;
  generation: number;
  owners: number;
  /** Tasks this generation creates at most. */
  maxTasks: number;
}

interface AckBase {
  /** The worker generation (process) that was told. */
  g: number;
  task: string;
  /** Date.now() just before the call was made. */
  before: number;
}

export type Ack = AckBase &
  (
    | { op: 'create'; tokens: string[] }
    | { op: 'claim'; owner: string; epoch: number; lease: Lease }
    | { op: 'heartbeat'; owner: string; epoch: number; progress: number; lease: Lease }
    | { op: 'extend'; owner: string; epoch: number; lease: Lease }
    | { op: 'addCompensation'; owner: string; epoch: number; token: string; action: string }
    | { op: 'complete'; owner: string; epoch: number; result: Json }
    | { op: 'fail'; owner: string; epoch: number; retryable: boolean }
    | { op: 'release'; owner: string; epoch: number }
    | { op: 'quarantine'; by: string }
    | { op: 'annotate'; key: string; value: Json }
    | { op: 'intent'; owner: string; epoch: number; end: 'complete' | 'fail' | 'release' }
  );

/** An acknowledgement as the worker writes it (its generation is added on the way out). */
export type AckEntry = Ack extends infer A ? (A extends unknown ? Omit<A, 'g'> : never) : never;

export interface Run {
  g: number;
  token: string;
  phase: 'start' | 'end' | 'fail';
}

/** Appends one line and fsyncs it before returning. */
export function appender(path: string): { write(entry: object): void; close(): void } {
  const fd = openSync(path, 'a');
  return {
    write(entry) {
      writeSync(fd, `${JSON.stringify(entry)}\n`);
      fsyncSync(fd);
    },
    close: () => closeSync(fd),
  };
}

/** Every complete line of an NDJSON side file. */
export function readLines<T>(path: string): T[] {
  if (!existsSync(path)) return [];
  const text = readFileSync(path, 'utf8');
  const complete = text.slice(0, text.lastIndexOf('\n') + 1);
  return complete
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as T);
}

/** Leases the owners were granted and have not ended (complete, fail, release, quarantine), newest per task. */
export function openLeases(acks: Ack[]): { task: string; owner: string; epoch: number }[] {
  const open = new Map<string, { task: string; owner: string; epoch: number }>();
  for (const ack of acks) {
    if (ack.op === 'claim') open.set(ack.task, { task: ack.task, owner: ack.owner, epoch: ack.epoch });
    else if (ack.op === 'complete' || ack.op === 'fail' || ack.op === 'release') {
      if (open.get(ack.task)?.epoch === ack.epoch) open.delete(ack.task);
    } else if (ack.op === 'quarantine') open.delete(ack.task);
  }
  return [...open.values()];
}
