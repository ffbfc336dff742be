// Turns the workloads' medians into what the bench reports: ratios against the baselines,
// each target of the issue as met or not, and the tables (text for the terminal, Markdown
// for the README).
import type { VariantResult } from './alternate.js';
import { ratio } from './stats.js';
import type { Cell, Table } from './table.js';
import { labelOf, type VariantKey } from './variants.js';
import type { W1Metrics } from './w1-throughput.js';
import type { W2Metrics } from './w2-scale.js';
import type { W3Metrics } from './w3-timers.js';

type Results<M extends W1Metrics | W2Metrics | W3Metrics> = { [variant: string]: VariantResult<M> };

export interface BenchResults {
  w1: Results<W1Metrics>;
  w2: Results<W2Metrics>;
  w3: Results<W3Metrics>;
}

export interface Target {
  target: string;
  measured: number;
  unit: string;
  met: boolean;
}

const medianOf = <M extends W1Metrics | W2Metrics | W3Metrics>(results: Results<M>, variant: VariantKey): M => {
  const result = results[variant];
  if (result === undefined) throw new Error(`no results for ${variant}`);
  return result.median;
};

/** Every ratio the report shows, per leasehold variant (the baselines compare as 1). */
export function ratios(results: BenchResults) {
  const sqlite = { w1: medianOf(results.w1, 'sqlite'), w2: medianOf(results.w2, 'sqlite'), w3: medianOf(results.w3, 'sqlite') };
  const memory = medianOf(results.w1, 'leasehold-memory');
  const each = <M extends W1Metrics | W2Metrics | W3Metrics, R>(r: Results<M>, f: (m: M) => R) =>
    Object.fromEntries(Object.entries(r).map(([variant, { median }]) => [variant, f(median)]));
  return {
    w1: each(results.w1, (m) => ({
      opsVsSqlite: ratio(m.opsPerSec, sqlite.w1.opsPerSec),
      opsVsMemory: ratio(m.opsPerSec, memory.opsPerSec),
      p99VsSqlite: ratio(m.p99Ms, sqlite.w1.p99Ms),
    })),
    w2: each(results.w2, (m) => ({
      reopenVsSqlite: ratio(m.reopenSeconds, sqlite.w2.reopenSeconds),
      rssVsSqlite: ratio(m.rssMiB, sqlite.w2.rssMiB),
      diskVsSqlite: ratio(m.fileMiB, sqlite.w2.fileMiB),
    })),
    w3: each(results.w3, (m) => ({ p99VsSqlite: ratio(m.p99Ms, sqlite.w3.p99Ms) })),
  };
}

/** The issue's targets, judged on the durable JSON store. */
export function targets(results: BenchResults): Target[] {
  const r = ratios(results);
  const w1 = medianOf(results.w1, 'leasehold-json');
  const w2 = medianOf(results.w2, 'leasehold-json');
  const w3 = medianOf(results.w3, 'leasehold-json');
  const json = 'leasehold-json';
  const rss = Math.max(w2.rssMiB, w2.reopenRssMiB);
  return [
    { target: 'W1 durable ≥ 5× SQLite (ops/s)', measured: r.w1[json]!.opsVsSqlite, unit: '×', met: r.w1[json]!.opsVsSqlite >= 5 },
    { target: 'W1 durable ≥ 0.3× memoryStore (ops/s)', measured: r.w1[json]!.opsVsMemory, unit: '×', met: r.w1[json]!.opsVsMemory >= 0.3 },
    { target: 'W1 p99 acknowledgement ≤ 5 ms', measured: w1.p99Ms, unit: 'ms', met: w1.p99Ms <= 5 },
    { target: 'W2 RSS ≤ 1 GiB (create or reopen)', measured: rss, unit: 'MiB', met: rss <= 1024 },
    { target: 'W2 reopen ≤ 2 s', measured: w2.reopenSeconds, unit: 's', met: w2.reopenSeconds <= 2 },
    { target: 'W3 p99 expiry lag ≤ 50 ms', measured: w3.p99Ms, unit: 'ms', met: w3.p99Ms <= 50 },
  ];
}

const times = (value: number) => `${value.toFixed(2)}×`;

export function tables(results: BenchResults, sizes: { w1: string; w2: string; w3: string }, quick: boolean, jsonStore: string): Table[] {
  const r = ratios(results);
  const rows = <M extends W1Metrics | W2Metrics | W3Metrics>(res: Results<M>, cells: (variant: string, m: M) => Cell[]) =>
    Object.entries(res).map(([variant, { median }]) => [labelOf(variant, jsonStore), ...cells(variant, median)]);
  return [
    {
      title: `W1 throughput: ${sizes.w1}`,
      headers: ['variant', 'ops/s', 'p50 ms', 'p99 ms', 'ops/s vs SQLite', 'ops/s vs memory'],
      rows: rows(results.w1, (v, m) => [m.opsPerSec, m.p50Ms, m.p99Ms, times(r.w1[v]!.opsVsSqlite), times(r.w1[v]!.opsVsMemory)]),
    },
    {
      title: `W2 scale: ${sizes.w2}`,
      headers: ['variant', 'create s', 'RSS MiB', 'heap MiB', 'close s', 'reopen s', 'reopen RSS MiB', 'disk MiB', 'reopen vs SQLite', 'RSS vs SQLite'],
      rows: rows(results.w2, (v, m) => [
        m.createSeconds,
        m.rssMiB,
        m.heapMiB,
        m.closeSeconds,
        m.reopenSeconds,
        m.reopenRssMiB,
        m.fileMiB,
        times(r.w2[v]!.reopenVsSqlite),
        times(r.w2[v]!.rssVsSqlite),
      ]),
    },
    {
      title: `W3 timers: ${sizes.w3}`,
      headers: ['variant', 'lag p50 ms', 'lag p99 ms', 'lag max ms', 'p99 vs SQLite'],
      rows: rows(results.w3, (v, m) => [m.p50Ms, m.p99Ms, m.maxMs, times(r.w3[v]!.p99VsSqlite)]),
    },
    {
      title: quick ? 'Targets (quick sizes: indicative only, the targets are for the full run)' : 'Targets (leasehold on the durable JSON store)',
      headers: ['target', 'measured', 'status'],
      rows: targets(results).map((t) => [t.target, `${t.unit === '×' ? times(t.measured) : `${t.measured.toFixed(t.unit === 's' ? 2 : 1)} ${t.unit}`}`, t.met ? 'met' : 'NOT met']),
    },
  ];
}
