// What every workload shares: the tasks it creates, a seeded random source, bounded
// concurrency for bulk set-up, and scratch directories (in the OS temp dir, i.e. on disk).
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PRIORITIES, type Priority } from '../machines/task.types.js';

export interface BenchTask {
  id: string;
  priority: Priority;
  spec: { repo: string; branch: string };
}

/** `count` tasks with mixed priorities and a small spec, the same for every variant. */
export function benchTasks(count: number): BenchTask[] {
  return Array.from({ length: count }, (_, index) => {
    const id = `task-${String(index).padStart(6, '0')}`;
    return { id, priority: PRIORITIES[index % PRIORITIES.length]!, spec: { repo: 'acme/app', branch: `agent/${id}` } };
  });
}

/** mulberry32: a small deterministic PRNG, so every variant gets the same lease durations. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/**
 * Calls `call` for every item, `size` calls in flight at a time (a chunk is issued at once and
 * awaited together, which is how a bulk import reaches a group-committing store).
 */
export async function inChunks<T, R>(items: readonly T[], size: number, call: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (let start = 0; start < items.length; start += size) {
    results.push(...(await Promise.all(items.slice(start, start + size).map((item, offset) => call(item, start + offset)))));
  }
  return results;
}

export function scratchDir(label: string): string {
  return mkdtempSync(join(tmpdir(), `leasehold-bench-${label}-`));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Sizes of the regular files a store left in its directory (lock files included, they are tiny). */
export function filesIn(dir: string): { [name: string]: number } {
  const sizes: { [name: string]: number } = {};
  for (const name of readdirSync(dir).sort()) {
    const info = statSync(join(dir, name));
    if (info.isFile()) sizes[name] = info.size;
  }
  return sizes;
}

export const MiB = 2 ** 20;
