// `GET /metrics`: Prometheus text (prom-client) on a registry of its own, never the global
// one. Owns the metric definitions and the HTTP request timing hook. Nothing here is durable:
// every leasehold counter is read from `sup.stats()` (which starts at zero with each
// supervisor and is fed by the lifecycle events once durable), so a scrape shows exactly what
// the stats say, and a restart starts counters again at zero (Prometheus' rate() handles it).
//
// Cost: the gauges and counters are filled at scrape time (prom-client `collect`) from one
// `sup.stats()` read per scrape, whose cost does not grow with the number of tasks (the read
// model keeps its counts incrementally); nothing walks tasks, nothing runs per lifecycle event.
// The HTTP metrics come from an onResponse hook on the app it is given, so register it on the
// root instance to time every route (SSE streams are hijacked replies, timed by no hook).
//
// No authentication: the contract serves `/metrics` to anyone who can reach the port
// (loopback by default); it holds counts only, never task ids, owners or tokens.
import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { TASK_STATES } from '../../machines/task.types.js';
import type { SupervisorStats } from '../stats/index.js';
import { SWEEPS } from '../stats/index.js';
import { LIFECYCLE_EVENTS, type Supervisor } from '../supervisor/options.js';

export interface MetricsOptions {
  sup: Supervisor;
  /** Where the metrics live (default: a new Registry). The process's default metrics (collected once per process) are added unless it has them already. */
  registry?: Registry;
}

/** Seconds; from 1 ms (a read) to 10 s (a write waiting on a slow disk). */
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** A counter whose value is read from the stats at scrape time (it only ever grows with them). */
function statsCounter(registry: Registry, read: () => SupervisorStats, name: string, help: string, value: (stats: SupervisorStats) => number) {
  return new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(value(read()));
    },
  });
}

/**
 * The default process metrics, collected once per process: prom-client starts a gc observer
 * and an event-loop delay monitor for each collection and nothing stops them, so one per
 * server would outlive every close() (a process that serves again and again would pile them up).
 */
let processMetrics: Registry | undefined;
function processRegistry(): Registry {
  if (!processMetrics) {
    processMetrics = new Registry();
    collectDefaultMetrics({ register: processMetrics });
  }
  return processMetrics;
}

export function registerMetrics(app: FastifyInstance, options: MetricsOptions): Registry {
  const { sup } = options;
  const registry = options.registry ?? new Registry();
  const shared = processRegistry();
  for (const { name } of shared.getMetricsAsArray()) {
    if (registry.getSingleMetric(name) === undefined) registry.registerMetric(shared.getSingleMetric(name)!);
  }

  // One stats read per scrape: the route sets it before asking the registry; a scrape of the
  // same registry from elsewhere reads its own.
  let scraped: SupervisorStats | null = null;
  const read = () => scraped ?? sup.stats();

  new Gauge({
    name: 'leasehold_tasks',
    help: 'Tasks by top-level state.',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const { byState } = read();
      for (const state of TASK_STATES) this.set({ state }, byState[state]);
    },
  });
  new Gauge({
    name: 'leasehold_tasks_by_substate',
    help: 'Tasks by full state path (planned.ready, stale.grace, completed, ...); only paths some task is in.',
    labelNames: ['substate'],
    registers: [registry],
    collect() {
      // Reset first: a path no task is in any more disappears rather than staying at its last value.
      this.reset();
      for (const [substate, n] of Object.entries(read().bySubstate)) this.set({ substate }, n);
    },
  });
  new Gauge({
    name: 'leasehold_leases_expiring_soon',
    help: 'Leased tasks whose lease expires within stats.expiringSoonMs (default 5 min).',
    registers: [registry],
    collect() {
      this.set(read().expiringSoon);
    },
  });
  new Gauge({
    name: 'leasehold_average_renewals',
    help: 'Accepted heartbeats per lease granted.',
    registers: [registry],
    collect() {
      this.set(read().averageRenewals);
    },
  });

  const counters: [string, string, (stats: SupervisorStats) => number][] = [
    ['claims', 'Leases granted (claim and claimNext, reclaims included).', (s) => s.events.claimed],
    ['reclaims', 'Claims that took an expired lease over from its previous holder.', (s) => s.reclaims],
    ['spurious_reclaims', 'Reclaims whose previous holder reported afterwards (it was alive).', (s) => s.spuriousReclaims],
    ['late_reports', 'Calls refused from reclaimed holders.', (s) => s.lateReports],
    ['expiries', 'Leases that expired.', (s) => s.events.expired],
    ['late_heartbeats', 'Heartbeats accepted during grace, after the lease had expired.', (s) => s.lateHeartbeats],
    ['stuck', 'Leases that reached maxRenewals (one report per lease).', (s) => s.stuck],
    ['completions', 'Tasks completed.', (s) => s.events.completed],
    ['failures', 'Fail calls accepted (retryable ones included).', (s) => s.events.failed],
    ['releases', 'Leases released by their holder.', (s) => s.events.released],
    ['compensations', 'Tasks whose compensations all ran.', (s) => s.events.compensated],
    ['quarantines', 'Tasks quarantined (by an operator or after failed compensations).', (s) => s.events.quarantined],
    ['recoveries', 'Claims that came with a recovery hand-off.', (s) => s.recoveries],
  ];
  for (const [name, help, value] of counters) statsCounter(registry, read, `leasehold_${name}_total`, help, value);

  new Counter({
    name: 'leasehold_grace_extensions_total',
    help: 'Grace periods extended by the lease policy or a probe, by reason.',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [reason, n] of Object.entries(read().graceExtensions.byReason)) this.inc({ reason }, n);
    },
  });
  new Counter({
    name: 'leasehold_events_total',
    help: 'Lifecycle events published (once durable), by type.',
    labelNames: ['type'],
    registers: [registry],
    collect() {
      const { events } = read();
      this.reset();
      for (const type of LIFECYCLE_EVENTS) this.inc({ type }, events[type]);
    },
  });
  new Counter({
    name: 'leasehold_sweep_runs_total',
    help: 'Scheduled sweeps run, by sweep.',
    labelNames: ['sweep'],
    registers: [registry],
    collect() {
      const { sweeps } = read();
      this.reset();
      for (const sweep of SWEEPS) this.inc({ sweep }, sweeps[sweep].runs);
    },
  });
  new Counter({
    name: 'leasehold_sweep_tasks_total',
    help: 'Tasks a sweep acted on, by sweep (reconcile should stay 0).',
    labelNames: ['sweep'],
    registers: [registry],
    collect() {
      const { sweeps } = read();
      this.reset();
      for (const sweep of SWEEPS) this.inc({ sweep }, sweeps[sweep].count);
    },
  });

  const requests = new Counter({
    name: 'leasehold_http_requests_total',
    help: 'HTTP requests answered, by method, route pattern and status.',
    labelNames: ['method', 'route', 'status'],
    registers: [registry],
  });
  const durations = new Histogram({
    name: 'leasehold_http_request_duration_seconds',
    help: 'Time to answer an HTTP request, by method, route pattern and status.',
    labelNames: ['method', 'route', 'status'],
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  app.addHook('onResponse', (request, reply, done) => {
    // The route pattern (`/v1/tasks/:id`), never the URL: labels stay few and hold no task ids.
    const labels = { method: request.method, route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) };
    requests.inc(labels);
    durations.observe(labels, reply.elapsedTime / 1_000);
    done();
  });

  app.get('/metrics', async (_request, reply) => {
    scraped = sup.stats();
    try {
      const text = await registry.metrics();
      return reply.header('content-type', registry.contentType).send(text);
    } finally {
      scraped = null;
    }
  });
  return registry;
}
