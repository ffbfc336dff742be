// Turns the workloads' medians into what the bench reports: ratios against the baselines,
// each target of the issue as met or not, and the tables (text for the terminal, Markdown
// for the README). A workload that did not run (`--only`, or a results file from before it
// existed) has no ratios, targets or table.
import type { VariantResult } from './alternate.js';
import { percentile, ratio } from './stats.js';
import type { Cell, Table } from './table.js';
import { labelOf, type ServiceKey, type VariantKey } from './variants.js';
import type { W1Metrics } from './w1-throughput.js';
import type { W2Metrics } from './w2-scale.js';
import type { W3Metrics } from './w3-timers.js';
import type { W5Metrics, W5Variant } from './w5-dashboard.js';
import type { W6Results, W6Variant } from './w6-postgres.js';
import type { TakeoverResult } from './w6-takeover.js';

type AnyMetrics = W1Metrics | W2Metrics | W3Metrics | W5Metrics;
type Results<M extends AnyMetrics> = { [variant: string]: VariantResult<M> };

export interface BenchResults {
  w1?: Results<W1Metrics>;
  w2?: Results<W2Metrics>;
  w3?: Results<W3Metrics>;
  /** W1's workload as a service: in-process, over HTTP, BullMQ on Redis. */
  w4?: Results<W1Metrics>;
  /** The dashboard's reads: sup.page / sup.agents against sup.list() + JS. */
  w5?: Results<W5Metrics>;
  /** PostgreSQL: W1's workload on postgresStore and on pg-boss, W2's reopen on postgresStore, a standby's takeover. */
  w6?: W6Results;
}

/** Variants a workload did not run, with the reason (W4's BullMQ ones without redis-server). */
export type SkippedVariants = { [workload: string]: { [variant: string]: string } };

export interface Target {
  target: string;
  measured: number;
  unit: string;
  met: boolean;
}

const medianOf = <M extends AnyMetrics>(results: Results<M>, variant: VariantKey | ServiceKey | W5Variant | W6Variant): M => {
  const result = results[variant];
  if (result === undefined) throw new Error(`no results for ${variant}`);
  return result.median;
};

const each = <M extends AnyMetrics, R>(results: Results<M>, f: (m: M) => R) =>
  Object.fromEntries(Object.entries(results).map(([variant, { median }]) => [variant, f(median)]));

function w1Ratios(w1: Results<W1Metrics>) {
  const sqlite = medianOf(w1, 'sqlite');
  const memory = medianOf(w1, 'leasehold-memory');
  return each(w1, (m) => ({
    opsVsSqlite: ratio(m.opsPerSec, sqlite.opsPerSec),
    opsVsMemory: ratio(m.opsPerSec, memory.opsPerSec),
    p99VsSqlite: ratio(m.p99Ms, sqlite.p99Ms),
  }));
}

function w2Ratios(w2: Results<W2Metrics>) {
  const sqlite = medianOf(w2, 'sqlite');
  return each(w2, (m) => ({
    reopenVsSqlite: ratio(m.reopenSeconds, sqlite.reopenSeconds),
    rssVsSqlite: ratio(m.rssMiB, sqlite.rssMiB),
    diskVsSqlite: ratio(m.fileMiB, sqlite.fileMiB),
  }));
}

function w3Ratios(w3: Results<W3Metrics>) {
  const sqlite = medianOf(w3, 'sqlite');
  return each(w3, (m) => ({ p99VsSqlite: ratio(m.p99Ms, sqlite.p99Ms) }));
}

/** Against leasehold in-process, and against BullMQ with per-write fsync when it ran. */
function w4Ratios(w4: Results<W1Metrics>) {
  const inProcess = medianOf(w4, 'leasehold-json');
  const always = w4['bullmq-always']?.median;
  return each(w4, (m) => ({
    opsVsInProcess: ratio(m.opsPerSec, inProcess.opsPerSec),
    p99VsInProcess: ratio(m.p99Ms, inProcess.p99Ms),
    ...(always && { opsVsBullmqAlways: ratio(m.opsPerSec, always.opsPerSec), p99VsBullmqAlways: ratio(m.p99Ms, always.p99Ms) }),
  }));
}

/** How many times faster than the list + JS baseline (p50), per read. */
function w5Ratios(w5: Results<W5Metrics>) {
  const list = medianOf(w5, 'list-js');
  return each(w5, (m) => ({
    leasedSpeedup: ratio(list.leasedP50Ms, m.leasedP50Ms),
    searchSpeedup: ratio(list.searchP50Ms, m.searchP50Ms),
    agentsSpeedup: ratio(list.agentsP50Ms, m.agentsP50Ms),
  }));
}

/** Against pg-boss on the same server, in the same run. */
function w6Ratios(throughput: Results<W1Metrics>) {
  const pgboss = medianOf(throughput, 'pgboss');
  return each(throughput, (m) => ({
    opsVsPgBoss: ratio(m.opsPerSec, pgboss.opsPerSec),
    p50VsPgBoss: ratio(m.p50Ms, pgboss.p50Ms),
    p99VsPgBoss: ratio(m.p99Ms, pgboss.p99Ms),
  }));
}

/** Every ratio the report shows, per variant of each workload that ran (a baseline compares as 1). */
export function ratios({ w1, w2, w3, w4, w5, w6 }: BenchResults) {
  return {
    ...(w1 && { w1: w1Ratios(w1) }),
    ...(w2 && { w2: w2Ratios(w2) }),
    ...(w3 && { w3: w3Ratios(w3) }),
    ...(w4 && { w4: w4Ratios(w4) }),
    ...(w5 && { w5: w5Ratios(w5) }),
    ...(w6 && { w6: w6Ratios(w6.throughput) }),
  };
}

/** The issue's targets, judged on the durable JSON store (W4 has none: figures only). */
export function targets({ w1, w2, w3 }: BenchResults): Target[] {
  const json = 'leasehold-json';
  const fromW1 = (results: Results<W1Metrics>): Target[] => {
    const r = w1Ratios(results)[json]!;
    const m = medianOf(results, json);
    return [
      { target: 'W1 durable ≥ 5× SQLite (ops/s)', measured: r.opsVsSqlite, unit: '×', met: r.opsVsSqlite >= 5 },
      { target: 'W1 durable ≥ 0.3× memoryStore (ops/s)', measured: r.opsVsMemory, unit: '×', met: r.opsVsMemory >= 0.3 },
      { target: 'W1 p99 acknowledgement ≤ 5 ms', measured: m.p99Ms, unit: 'ms', met: m.p99Ms <= 5 },
    ];
  };
  const fromW2 = (results: Results<W2Metrics>): Target[] => {
    const m = medianOf(results, json);
    const rss = Math.max(m.rssMiB, m.reopenRssMiB);
    return [
      { target: 'W2 RSS ≤ 1 GiB (create or reopen)', measured: rss, unit: 'MiB', met: rss <= 1024 },
      { target: 'W2 reopen ≤ 2 s', measured: m.reopenSeconds, unit: 's', met: m.reopenSeconds <= 2 },
    ];
  };
  const fromW3 = (results: Results<W3Metrics>): Target[] => {
    const m = medianOf(results, json);
    return [{ target: 'W3 p99 expiry lag ≤ 50 ms', measured: m.p99Ms, unit: 'ms', met: m.p99Ms <= 50 }];
  };
  return [...(w1 ? fromW1(w1) : []), ...(w2 ? fromW2(w2) : []), ...(w3 ? fromW3(w3) : [])];
}

const times = (value: number | undefined) => (value === undefined ? 'n/a' : `${value.toFixed(2)}×`);

export interface TableSizes {
  w1?: string;
  w2?: string;
  w3?: string;
  w4?: string;
  w5?: string;
  w6?: string;
  w6scale?: string;
  w6takeover?: string;
}

export function tables(results: BenchResults, sizes: TableSizes, quick: boolean, jsonStore: string, skipped: SkippedVariants = {}): Table[] {
  const { w1, w2, w3, w4, w5, w6 } = results;
  const rows = <M extends AnyMetrics>(res: Results<M>, cells: (variant: string, m: M) => Cell[], label = (variant: string) => labelOf(variant, jsonStore)) =>
    Object.entries(res).map(([variant, { median }]) => [label(variant), ...cells(variant, median)]);
  const list: Table[] = [];
  if (w1) {
    const r = w1Ratios(w1);
    list.push({
      title: `W1 throughput: ${sizes.w1}`,
      headers: ['variant', 'ops/s', 'p50 ms', 'p99 ms', 'ops/s vs SQLite', 'ops/s vs memory'],
      rows: rows(w1, (v, m) => [m.opsPerSec, m.p50Ms, m.p99Ms, times(r[v]!.opsVsSqlite), times(r[v]!.opsVsMemory)]),
    });
  }
  if (w2) {
    const r = w2Ratios(w2);
    list.push({
      title: `W2 scale: ${sizes.w2}`,
      headers: ['variant', 'create s', 'RSS MiB', 'heap MiB', 'close s', 'reopen s', 'reopen RSS MiB', 'disk MiB', 'reopen vs SQLite', 'RSS vs SQLite'],
      rows: rows(w2, (v, m) => [
        m.createSeconds,
        m.rssMiB,
        m.heapMiB,
        m.closeSeconds,
        m.reopenSeconds,
        m.reopenRssMiB,
        m.fileMiB,
        times(r[v]!.reopenVsSqlite),
        times(r[v]!.rssVsSqlite),
      ]),
    });
  }
  if (w3) {
    const r = w3Ratios(w3);
    list.push({
      title: `W3 timers: ${sizes.w3}`,
      headers: ['variant', 'lag p50 ms', 'lag p99 ms', 'lag max ms', 'p99 vs SQLite'],
      rows: rows(w3, (v, m) => [m.p50Ms, m.p99Ms, m.maxMs, times(r[v]!.p99VsSqlite)]),
    });
  }
  if (w4) {
    const r = w4Ratios(w4);
    const headers = ['variant', 'ops/s', 'p50 ms', 'p99 ms', 'max ms', 'ops/s vs in-process', 'p99 vs in-process', 'ops/s vs BullMQ always', 'p99 vs BullMQ always'];
    const notRun = Object.entries(skipped.w4 ?? {});
    const label = (variant: string) => (variant === 'leasehold-json' ? `leasehold in-process, ${labelOf(variant, jsonStore).replace(/^leasehold, /, '')}` : labelOf(variant, jsonStore));
    list.push({
      title: `W4 service: ${sizes.w4}`,
      headers,
      rows: [
        ...rows(
          w4,
          (v, m) => [m.opsPerSec, m.p50Ms, m.p99Ms, m.maxMs, times(r[v]!.opsVsInProcess), times(r[v]!.p99VsInProcess), times(r[v]!.opsVsBullmqAlways), times(r[v]!.p99VsBullmqAlways)],
          label,
        ),
        ...notRun.map(([variant]) => [labelOf(variant, jsonStore), 'skipped', ...headers.slice(2).map(() => '')]),
      ],
      notes: [...new Set(notRun.map(([, reason]) => reason))].map((reason) => `BullMQ skipped: ${reason}`),
    });
  }
  if (w5) {
    const r = w5Ratios(w5);
    const label = (variant: string) => (variant === 'leasehold-page' ? 'sup.page / sup.agents' : variant === 'list-js' ? 'sup.list() + JS (baseline)' : variant);
    list.push({
      title: `W5 dashboard queries: ${sizes.w5}`,
      headers: ['reads', 'leased by expiry p50 ms', 'p99 ms', 'id search p50 ms', 'p99 ms', 'agents p50 ms', 'p99 ms', 'leased speed-up', 'search speed-up', 'agents speed-up'],
      rows: rows(
        w5,
        (v, m) => [m.leasedP50Ms, m.leasedP99Ms, m.searchP50Ms, m.searchP99Ms, m.agentsP50Ms, m.agentsP99Ms, times(r[v]!.leasedSpeedup), times(r[v]!.searchSpeedup), times(r[v]!.agentsSpeedup)],
        label,
      ),
      notes: ['speed-up: the baseline p50 over this p50 (page({state: leased, sort: expiresAt}), page({search}), agents())'],
    });
  }
  if (w6) list.push(...w6Tables(w6, sizes));
  const judged = targets(results);
  if (judged.length > 0) {
    list.push({
      title: quick ? 'Targets (quick sizes: indicative only, the targets are for the full run)' : 'Targets (leasehold on the durable JSON store)',
      headers: ['target', 'measured', 'status'],
      rows: judged.map((t) => [t.target, `${t.unit === '×' ? times(t.measured) : `${t.measured.toFixed(t.unit === 's' ? 2 : 1)} ${t.unit}`}`, t.met ? 'met' : 'NOT met']),
    });
  }
  return list;
}

/** W6's tables: postgresStore against pg-boss, the reopen of a large store, and the takeover when measured. */
function w6Tables({ throughput, scale, takeover, server }: W6Results, sizes: TableSizes): Table[] {
  const r = w6Ratios(throughput);
  const label = (variant: string) => (variant === 'leasehold-postgres' ? 'leasehold, postgresStore' : variant === 'pgboss' ? 'pg-boss 10 (baseline)' : variant);
  const on = `PostgreSQL ${server.postgres}, ${server.settings}`;
  return [
    {
      title: `W6 PostgreSQL throughput: ${sizes.w6}`,
      headers: ['variant', 'ops/s', 'p50 ms', 'p99 ms', 'max ms', 'ops/s vs pg-boss', 'p50 vs pg-boss', 'p99 vs pg-boss'],
      rows: Object.entries(throughput).map(([variant, { median: m }]) => [
        label(variant),
        m.opsPerSec,
        m.p50Ms,
        m.p99Ms,
        m.maxMs,
        times(r[variant]!.opsVsPgBoss),
        times(r[variant]!.p50VsPgBoss),
        times(r[variant]!.p99VsPgBoss),
      ]),
      notes: [
        `on ${on}; both in this process, one shared server, a fresh schema per run`,
        'pg-boss: fetch() → 3 keep-alives → complete(); pg-boss 10 has no per-job heartbeat, so each keep-alive is an UPDATE of the active job\'s expire_in through its pool (unfenced, as complete() is)',
      ],
    },
    {
      title: `W6 PostgreSQL scale: ${sizes.w6scale}`,
      headers: ['variant', 'create s', 'RSS MiB', 'heap MiB', 'close s', 'reopen s', 'reopen RSS MiB', 'reopen heap MiB', 'tables MiB'],
      rows: Object.entries(scale).map(([variant, { median: m }]) => [
        label(variant),
        m.createSeconds,
        m.rssMiB,
        m.heapMiB,
        m.closeSeconds,
        m.reopenSeconds,
        m.reopenRssMiB,
        m.reopenHeapMiB,
        m.fileMiB,
      ]),
      notes: [`on ${on}; tables MiB: the schema's tables with their indexes and TOAST`],
    },
    ...(takeover === undefined ? [] : [takeoverTable(takeover, sizes, on)]),
  ];
}

/** W6's takeover: per ownership TTL, from the leader's SIGKILL to the standby's first acknowledged call. */
function takeoverTable(takeover: TakeoverResult[], sizes: TableSizes, on: string): Table {
  return {
    title: `W6 PostgreSQL takeover: ${sizes.w6takeover}`,
    headers: ['ownership TTL s', 'samples', 'ready p50 ms', 'first ack p50 ms', 'first ack max ms', 'target ms', 'p50 vs target', 'max vs target'],
    rows: takeover.map((t) => [t.ownershipTtlMs / 1000, String(t.firstAckMs.length), percentile(t.readyMs, 50), t.p50Ms, t.maxMs, t.targetMs, times(t.p50VsTarget), times(t.maxVsTarget)]),
    notes: [`on ${on}; from the SIGKILL to the standby's \`ready\` and to its first acknowledged heartbeat on a re-armed lease; target: the TTL + 2 s`],
  };
}
