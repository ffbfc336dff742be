// A realistic morning of three agents, scripted on the test clock: work leased, renewed, done,
// released with a hand-off, failed and compensated, expired into grace, reclaimed (spuriously),
// quarantined, retried in backoff. The lifecycle test compares the page against it; the
// screenshot script photographs it.
import type { Supervisor, SupervisorOptions } from '../../src/index.js';
import type { TestClock } from '../../src/testing.js';

export const AGENTS = ['agent-atlas', 'agent-birch', 'agent-cedar'] as const;
const [atlas, birch, cedar] = AGENTS;

/** The supervisor options the scenario needs: its compensators (they succeed at once). */
export const scenarioOptions: Partial<SupervisorOptions> = {
  compensators: { 'delete-preview': async () => {}, 'revert-dns': async () => {}, 'restore-snapshot': async () => {} },
};

const MINUTE = 60_000;

/** Tasks the scenario leaves in telling states, for the tests and screenshots to open. */
export const SCENARIO_TASKS = {
  handOff: 'migrate/users-table',
  compensated: 'deploy/preview-1187',
  reclaimed: 'lint/monorepo',
  quarantined: 'scrape/docs-mirror',
  inGrace: 'index/search-shards',
} as const;

export async function playScenario(sup: Supervisor, clock: TestClock): Promise<void> {
  const work: [string, { labels?: string[]; priority?: 'critical' | 'high' | 'medium' | 'low'; maxRenewals?: number }][] = [
    ['build/api-gateway', { labels: ['ci'], priority: 'high' }],
    ['test/e2e-checkout', { labels: ['ci', 'browser'] }],
    ['review/pr-1187', { labels: ['review'] }],
    ['train/reranker-v3', { labels: ['gpu'], priority: 'high', maxRenewals: 2 }],
    ['deploy/preview-1187', { labels: ['deploy'], priority: 'high' }],
    ['migrate/users-table', { labels: ['db'], priority: 'critical' }],
    ['scrape/docs-mirror', { labels: ['crawl'], priority: 'low' }],
    ['index/search-shards', { labels: ['gpu'] }],
    ['lint/monorepo', { labels: ['ci'], priority: 'low' }],
    ['embed/corpus-2026-03', { labels: ['gpu'] }],
    ['report/weekly-metrics', { labels: ['report'], priority: 'low' }],
    ['review/pr-1190', { labels: ['review'] }],
  ];
  const priorities = ['medium', 'low', 'high', 'medium', 'critical'] as const;
  for (let n = 0; n < 24; n++) work.push([`backlog/ticket-${4100 + n * 7}`, { labels: n % 3 === 0 ? ['triage'] : ['backlog'], priority: priorities[n % priorities.length]! }]);
  await Promise.all(work.map(([id, options]) => sup.create({ id, ...options })));

  // 09:00 — the agents take work.
  const lease = async (id: string, owner: string, leaseMs?: number) => sup.claim(id, { owner, ...(leaseMs && { leaseMs }) });
  const gateway = await lease('build/api-gateway', atlas);
  const e2e = await lease('test/e2e-checkout', birch);
  const review = await lease('review/pr-1187', cedar);
  const reranker = await lease('train/reranker-v3', atlas);
  const deploy = await lease('deploy/preview-1187', birch);
  const migrate = await lease('migrate/users-table', cedar);
  await lease('scrape/docs-mirror', atlas);

  // 09:01 — progress, a compensation ledger, a review done.
  await clock.advance(MINUTE);
  await sup.heartbeat('build/api-gateway', { ...gateway, progress: 35, message: 'compiling 412/1180 modules' });
  await sup.heartbeat('test/e2e-checkout', { ...e2e, progress: 20, message: 'checkout flow: 3/15 specs' });
  await sup.heartbeat('train/reranker-v3', { ...reranker, progress: 10, message: 'epoch 1/10' });
  await sup.addCompensation('deploy/preview-1187', { ...deploy, action: 'delete-preview', args: { env: 'pr-1187' } });
  await sup.addCompensation('deploy/preview-1187', { ...deploy, action: 'revert-dns', args: { record: 'pr-1187.preview.example.com' } });
  await sup.heartbeat('migrate/users-table', { ...migrate, progress: 60, message: 'copied 6.1M of 10M rows' });
  await sup.addCompensation('migrate/users-table', { ...migrate, action: 'restore-snapshot', args: { snapshot: 'users-0900' } });
  await sup.complete('review/pr-1187', { ...review, result: { approved: true } });

  // 09:02 — a deploy fails for good (its ledger runs), a migration is handed over, a poison task is quarantined.
  await clock.advance(MINUTE);
  await sup.heartbeat('train/reranker-v3', { ...reranker, progress: 20, message: 'epoch 2/10' });
  await sup.heartbeat('train/reranker-v3', { ...reranker, progress: 30, message: 'epoch 3/10' }).catch(() => undefined);
  await sup.fail('deploy/preview-1187', { ...deploy, error: 'helm upgrade timed out after 300 s', retryable: false });
  await sup.release('migrate/users-table', { ...migrate, reason: 'needs a DBA: lock wait on users' });
  const migrate2 = await lease('migrate/users-table', atlas);
  await sup.quarantine('scrape/docs-mirror', { by: 'admin', reason: 'crashes every agent: 3 OOMs in a row' });
  const shards = await lease('index/search-shards', birch, MINUTE);
  const lint = await lease('lint/monorepo', cedar, MINUTE);
  await lease('embed/corpus-2026-03', atlas, MINUTE);

  // 09:03:30 — short leases ran out: one holder comes back late, in its grace.
  await clock.advance(90_000);
  await sup.heartbeat('index/search-shards', { ...shards, progress: 45, message: 'shard 9/20' });
  await sup.heartbeat('migrate/users-table', { ...migrate2, progress: 65, message: 'resumed at row 6.1M' });

  // 09:04:30 — graces ended: lint is reclaimed, and its old holder turns out to be alive.
  await clock.advance(MINUTE);
  await sup.claim('lint/monorepo', { owner: atlas });
  await sup.heartbeat('lint/monorepo', { ...lint, progress: 80 }).catch(() => undefined);
  const report = await lease('report/weekly-metrics', birch);
  await sup.fail('report/weekly-metrics', { ...report, error: 'metrics API answered 502', retryable: true });
  await sup.heartbeat('build/api-gateway', { ...gateway, progress: 70, message: 'linking' });
  await sup.heartbeat('test/e2e-checkout', { ...e2e, progress: 55, message: 'checkout flow: 8/15 specs' });
  await clock.settle();
}
