// GET /metrics on real loopback HTTP: the text parses line by line, the gauges (by state and
// by substate) equal sup.stats() after a few calls, the counters move with claims and expiries
// (driven by the test clock), the HTTP histogram counts the scrape's own route, and default
// process metrics are there beside the leasehold_ ones.
import type { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { LIFECYCLE_EVENTS, TASK_STATES, type Supervisor } from '../../src/index.js';
import { registerMetrics } from '../../src/server/metrics.js';
import { serveApp, supervisorOn, within } from './plugin-support.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Every sample line of Prometheus text; throws on a line that is neither a sample nor a comment. */
function parseMetrics(text: string): Sample[] {
  return text
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const match = LINE.exec(line);
      if (!match) throw new Error(`not a sample line: ${line}`);
      const labels = Object.fromEntries([...(match[2] ?? '').matchAll(LABEL)].map(([, key, value]) => [key!, value!]));
      // Go's ParseFloat, as Prometheus reads it: NaN and ±Inf in any case (prom-client writes `Nan`).
      const text = match[3]!;
      const value = /^nan$/i.test(text) ? NaN : /^[+-]?inf$/i.test(text) ? (text.startsWith('-') ? -Infinity : Infinity) : Number(text);
      if (Number.isNaN(value) && !/^nan$/i.test(text)) throw new Error(`not a number: ${line}`);
      return { name: match[1]!, labels, value };
    });
}

/** The value of `name` with exactly these labels (among others it may have none). */
function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return found.length === 0 ? undefined : found.reduce((sum, s) => sum + s.value, 0);
}

async function metricsServer(sup: Supervisor) {
  const { url } = await serveApp((app) => {
    registerMetrics(app, { sup });
    app.get('/hello/:name', async () => ({ ok: true }));
  });
  const scrape = async () => {
    const response = await within(fetch(`${url}/metrics`), 'a scrape');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    return parseMetrics(await within(response.text(), 'the scrape body'));
  };
  return { url, scrape };
}

describe('GET /metrics', () => {
  it('parses, and its gauges and counters equal sup.stats() after a few calls', async () => {
    const { sup, clock } = await supervisorOn();
    const { scrape } = await metricsServer(sup);
    const before = await scrape();
    expect(valueOf(before, 'leasehold_claims_total')).toBe(0);
    expect(valueOf(before, 'leasehold_expiries_total')).toBe(0);

    for (const id of ['t1', 't2', 't3', 't4']) await sup.create({ id });
    const l1 = await sup.claim('t1', { owner: 'a', leaseMs: 1_000 });
    await sup.claim('t2', { owner: 'b', leaseMs: 60 * 60_000 });
    const l3 = await sup.claim('t3', { owner: 'c' });
    await sup.complete('t3', l3);
    await clock.advance(1_001); // t1 expires (no grace in these tests)
    await sup.claim('t1', { owner: 'd' }); // a reclaim
    await expect(sup.heartbeat('t1', { ...l1 })).rejects.toMatchObject({ code: 'LEASE_CONFLICT' }); // its old holder: spurious

    const samples = await scrape();
    const stats = sup.stats();
    for (const state of TASK_STATES) expect(valueOf(samples, 'leasehold_tasks', { state }), state).toBe(stats.byState[state]);
    expect(stats.byState).toMatchObject({ leased: 2, planned: 1, completed: 1 });
    const bySubstate = Object.fromEntries(samples.filter((s) => s.name === 'leasehold_tasks_by_substate').map((s) => [s.labels.substate!, s.value]));
    expect(bySubstate).toEqual(stats.bySubstate);
    expect(Object.keys(bySubstate).length).toBeGreaterThanOrEqual(3);
    expect(valueOf(samples, 'leasehold_leases_expiring_soon')).toBe(stats.expiringSoon);
    expect(valueOf(samples, 'leasehold_claims_total')).toBe(stats.events.claimed);
    expect(valueOf(samples, 'leasehold_claims_total')).toBeGreaterThanOrEqual(4);
    expect(valueOf(samples, 'leasehold_expiries_total')).toBe(1);
    expect(valueOf(samples, 'leasehold_reclaims_total')).toBe(1);
    expect(valueOf(samples, 'leasehold_spurious_reclaims_total')).toBe(1);
    expect(stats.spuriousReclaims).toBe(1);
    expect(valueOf(samples, 'leasehold_completions_total')).toBe(1);
    for (const type of LIFECYCLE_EVENTS) expect(valueOf(samples, 'leasehold_events_total', { type }), type).toBe(stats.events[type]);
    expect(valueOf(samples, 'leasehold_sweep_runs_total', { sweep: 'reconcile' })).toBe(0);
  });

  it('counts HTTP requests by route pattern and status, the scrape\'s own route included', async () => {
    const { sup } = await supervisorOn();
    const { url, scrape } = await metricsServer(sup);
    for (const name of ['x', 'y']) expect((await within(fetch(`${url}/hello/${name}`), 'hello')).status).toBe(200);
    expect((await within(fetch(`${url}/nowhere`), 'a 404')).status).toBe(404);
    await scrape();
    const samples = await scrape();
    expect(valueOf(samples, 'leasehold_http_requests_total', { route: '/hello/:name', status: '200', method: 'GET' })).toBe(2);
    expect(valueOf(samples, 'leasehold_http_requests_total', { route: 'unmatched', status: '404' })).toBe(1);
    expect(valueOf(samples, 'leasehold_http_request_duration_seconds_count', { route: '/metrics', status: '200' })).toBe(1);
    expect(valueOf(samples, 'leasehold_http_request_duration_seconds_bucket', { route: '/metrics', le: '+Inf' })).toBe(1);
    expect(samples.some((s) => s.labels.route?.includes('x') || s.labels.route?.includes('y'))).toBe(false);
  });

  it('has the default process metrics on its own registry, and leasehold_ on everything of its own', async () => {
    const { sup } = await supervisorOn();
    const { scrape } = await metricsServer(sup);
    const names = new Set((await scrape()).map((s) => s.name));
    expect(names.has('process_cpu_user_seconds_total')).toBe(true);
    expect(names.has('nodejs_eventloop_lag_seconds')).toBe(true);
    const ours = [...names].filter((name) => !name.startsWith('process_') && !name.startsWith('nodejs_'));
    expect(ours.length).toBeGreaterThan(10);
    expect(ours.filter((name) => !name.startsWith('leasehold_'))).toEqual([]);
  });

  it('collects the process metrics once per process: serve() again and again starts no new gc observer or event-loop monitor', async () => {
    const { sup } = await supervisorOn();
    // prom-client's default metrics start a gc PerformanceObserver and an event-loop delay
    // monitor that nothing stops: one set per server would outlive every close().
    const registries: Registry[] = [];
    for (let i = 0; i < 2; i++) await serveApp((app) => void registries.push(registerMetrics(app, { sup })));
    const [first, second] = registries;
    for (const name of ['nodejs_gc_duration_seconds', 'nodejs_eventloop_lag_seconds', 'process_cpu_user_seconds_total']) {
      expect(first!.getSingleMetric(name), name).toBeDefined();
      expect(second!.getSingleMetric(name), name).toBe(first!.getSingleMetric(name));
    }
    // Each server still has leasehold metrics of its own.
    expect(second!.getSingleMetric('leasehold_claims_total')).not.toBe(first!.getSingleMetric('leasehold_claims_total'));
  });
});
