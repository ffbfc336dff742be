// Smoke test of the benchmark harness: `npm run bench -- --quick` runs every workload at toy
// sizes in a child process and reports sane numbers (finite, positive, ratios present). It
// never asserts speed: that is what the full `npm run bench` reports. W4's BullMQ variants run
// when redis-server is installed, and are reported as skipped when it is not (never a failure);
// W6 starts a PostgreSQL server of its own and runs pg-boss on it.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'leasehold-bench-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Medians = { [variant: string]: { median: { [metric: string]: number }; runs: unknown[] } };

describe('bench --quick', () => {
  it('runs W1–W6 against the baselines and reports finite, positive figures with ratios', () => {
    const out = join(dir, 'results.json');
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'bench/main.ts', '--quick', '--out', out], {
      cwd: root,
      encoding: 'utf8',
      timeout: 90_000,
    });
    expect(run.status, run.stderr).toBe(0);
    for (const title of ['W1 throughput', 'W2 scale', 'W3 timers', 'W4 service', 'W5 dashboard queries', 'W6 PostgreSQL throughput', 'W6 PostgreSQL scale', 'W6 PostgreSQL takeover', 'Targets']) expect(run.stdout).toContain(title);

    const report = JSON.parse(readFileSync(out, 'utf8')) as {
      mode: string;
      workloads: { w1: Medians; w2: Medians; w3: Medians; w4: Medians; w5: Medians; w6: {
          throughput: Medians;
          scale: Medians;
          takeover: { ownershipTtlMs: number; leasedTasks: number; readyMs: number[]; firstAckMs: number[]; p50Ms: number; maxMs: number; targetMs: number; maxVsTarget: number }[];
          server: { settings: string };
        };
      };
      skipped: { w4?: { [variant: string]: string } };
      ratios: { [workload: string]: { [variant: string]: { [ratio: string]: number } } };
      targets: { target: string; measured: number; met: boolean }[];
    };
    expect(report.mode).toBe('quick');
    const { w1, w2, w3, w4, w5, w6 } = report.workloads;
    expect(Object.keys(w5)).toEqual(['leasehold-page', 'list-js']);
    expect(Object.keys(w1)).toEqual(expect.arrayContaining(['leasehold-json', 'leasehold-memory', 'sqlite']));
    expect(Object.keys(w2)).toEqual(expect.arrayContaining(['leasehold-json', 'sqlite']));
    expect(Object.keys(w3)).toEqual(expect.arrayContaining(['leasehold-json', 'leasehold-memory', 'sqlite']));
    expect(Object.keys(w4)).toEqual(expect.arrayContaining(['leasehold-json', 'leasehold-http']));
    expect(Object.keys(w6.throughput)).toEqual(['leasehold-postgres', 'pgboss']);
    expect(Object.keys(w6.scale)).toEqual(['leasehold-postgres']);
    // Durable acknowledgements are what W6 measures: its server must not run with fsync off.
    expect(w6.server.settings).toBe('fsync on, synchronous_commit on');
    // The takeover: one sample at a short TTL; the first call is acknowledged after `ready`, and
    // (a SIGKILLed leader's ownership must expire first) not before half the TTL has passed.
    expect(w6.takeover).toHaveLength(1);
    const [takeover] = w6.takeover;
    expect(takeover!.firstAckMs).toHaveLength(1);
    expect(takeover!.firstAckMs[0]).toBeGreaterThanOrEqual(takeover!.readyMs[0]!);
    expect(takeover!.readyMs[0]).toBeGreaterThanOrEqual(takeover!.ownershipTtlMs / 2);
    expect(takeover!.maxMs).toBe(takeover!.firstAckMs[0]);
    expect(takeover!.targetMs).toBe(takeover!.ownershipTtlMs + 2_000);
    expect(takeover!.maxVsTarget).toBeGreaterThan(0);
    // Each BullMQ variant either ran or is in the table as skipped, with the reason under it.
    const bullmq = ['bullmq-always', 'bullmq-everysec'];
    const skipped = report.skipped.w4 ?? {};
    for (const variant of bullmq) expect((variant in w4) !== (variant in skipped), variant).toBe(true);
    if (Object.keys(skipped).length > 0) {
      expect(run.stdout).toMatch(/BullMQ, Redis appendfsync always +skipped/);
      expect(run.stdout).toContain('BullMQ skipped: redis-server');
    }
    for (const workload of [w1, w2, w3, w4, w5, w6.throughput, w6.scale]) {
      for (const { median } of Object.values(workload)) {
        for (const [metric, value] of Object.entries(median)) {
          expect(Number.isFinite(value), metric).toBe(true);
          // A timer can fire within the millisecond of its deadline: lags may be 0, never negative.
          expect(value, metric).toBeGreaterThanOrEqual(0);
          if (!/lag|p50|p99|max/i.test(metric) || workload === w1 || workload === w4 || workload === w6.throughput) expect(value, metric).toBeGreaterThan(0);
        }
      }
    }
    for (const [workload, byVariant] of Object.entries(report.ratios)) {
      expect(Object.keys(byVariant).length, workload).toBeGreaterThan(1);
      for (const values of Object.values(byVariant)) {
        for (const value of Object.values(values)) expect(value).toBeGreaterThan(0);
      }
    }
    expect(report.ratios.w1!.sqlite!.opsVsSqlite).toBe(1);
    expect(report.ratios.w6!.pgboss!.opsVsPgBoss).toBe(1);
    expect(report.targets).toHaveLength(6);
    for (const target of report.targets) expect(Number.isFinite(target.measured), target.target).toBe(true);
  }, 120_000);
});
