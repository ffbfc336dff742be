// Runs one benchmark job in a fresh Node process (see child.ts) and returns its metrics, plus
// the process measurements every child takes: resident set and heap after a full GC.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Metrics } from './stats.js';
import { MiB } from './tasks.js';
import type { VariantKey } from './variants.js';

export type ChildJob =
  | { workload: 'w2-create' | 'w2-reopen'; variant: VariantKey; tasks: number; dir: string }
  | { workload: 'w3'; variant: VariantKey; leases: number; minLeaseMs: number; maxLeaseMs: number; dir: string }
  | { workload: 'w6-create' | 'w6-reopen'; variant: 'leasehold-postgres'; tasks: number; url: string; schema: string };

const root = fileURLToPath(new URL('..', import.meta.url));

export function runChild<M extends Metrics>(job: ChildJob, timeoutMs: number): Promise<M> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', 'bench/child.ts', JSON.stringify(job)], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'inherit'],
      timeout: timeoutMs,
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const last = out.trimEnd().split('\n').at(-1) ?? '';
      if (code !== 0) return reject(new Error(`bench child ${job.workload} ${job.variant} exited with ${signal ?? code}\n${out}`));
      try {
        resolve(JSON.parse(last) as M);
      } catch {
        reject(new Error(`bench child ${job.workload} ${job.variant} printed no metrics\n${out}`));
      }
    });
  });
}

/** Resident set and live heap of this process after a full collection (needs --expose-gc). */
export function memoryNow(): { rssMiB: number; heapMiB: number } {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run with --expose-gc');
  gc();
  const { rss, heapUsed } = process.memoryUsage();
  return { rssMiB: rss / MiB, heapMiB: heapUsed / MiB };
}

/** Wall time of `work` in seconds, with its result. */
export async function timedSeconds<T>(work: () => Promise<T> | T): Promise<[number, T]> {
  const started = performance.now();
  const value = await work();
  return [(performance.now() - started) / 1000, value];
}
