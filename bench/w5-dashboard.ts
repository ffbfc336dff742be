// W5 dashboard queries: N tasks in memory (about half leased, some completed), then the reads
// the dashboard makes — the leased tasks by expiry, an id search, the agents' activity — timed
// per call (p50, p99). leasehold's own reads (`sup.page`, `sup.agents`, filtered and sorted on
// the live tasks, copying only the page) alternate in the same run with the baseline a caller
// has without them: `sup.list()` (every task copied) then the same filter, sort and counts in JS.
import { memoryStore, systemClock, createSupervisor, type Supervisor, type TaskView } from '../src/index.js';
import { alternate } from './alternate.js';
import { latencySummary } from './stats.js';
import { benchTasks, inChunks, seededRandom } from './tasks.js';

export interface W5Config {
  tasks: number;
  owners: number;
  /** Calls of each query per round. */
  queries: number;
  repeats: number;
}

export interface W5Metrics {
  [key: string]: number;
  leasedP50Ms: number;
  leasedP99Ms: number;
  searchP50Ms: number;
  searchP99Ms: number;
  agentsP50Ms: number;
  agentsP99Ms: number;
}

export type W5Variant = 'leasehold-page' | 'list-js';

const CHUNK = 1_000;
const PAGE = 50;
/** Matches 100 ids (`task-000100` … `task-000199`), in another case than they are written. */
const SEARCH = 'TASK-0001';

const byId = (a: TaskView, b: TaskView) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** The three reads, as the baseline makes them: the whole list, then JS. */
const baseline = {
  leased: (sup: Supervisor) =>
    sup
      .list()
      .filter((task) => task.state === 'leased')
      .sort((a, b) => a.lease!.expiresAt - b.lease!.expiresAt || byId(a, b))
      .slice(0, PAGE),
  search: (sup: Supervisor) => {
    const needle = SEARCH.toLowerCase();
    return sup
      .list()
      .filter((task) => task.id.toLowerCase().includes(needle))
      .sort((a, b) => a.createdAt - b.createdAt || byId(a, b))
      .slice(0, PAGE);
  },
  agents: (sup: Supervisor) => {
    const agents = new Map<string, { owner: string; leases: number; claims: number; completed: number; lastSeenAt: number }>();
    for (const task of sup.list()) {
      for (const entry of task.audit) {
        if (entry.owner === undefined) continue;
        const agent = agents.get(entry.owner) ?? { owner: entry.owner, leases: 0, claims: 0, completed: 0, lastSeenAt: 0 };
        agents.set(entry.owner, agent);
        agent.lastSeenAt = Math.max(agent.lastSeenAt, entry.at);
        if (entry.event === 'claimed' || entry.event === 'reclaimed') agent.claims++;
        if (entry.event === 'completed') agent.completed++;
      }
      if (task.lease && (task.substate === 'leased' || task.substate === 'stale.grace')) agents.get(task.lease.owner)!.leases++;
    }
    return [...agents.values()].sort((a, b) => (a.owner < b.owner ? -1 : 1));
  },
};

const library = {
  leased: (sup: Supervisor) => sup.page({ state: 'leased', sort: 'expiresAt', limit: PAGE }).tasks,
  search: (sup: Supervisor) => sup.page({ search: SEARCH, limit: PAGE }).tasks,
  agents: (sup: Supervisor) => sup.agents(),
};

/** N tasks; 60% claimed (leases of 30–90 min, nothing expires during the run), every sixth of those completed. */
async function populate(config: W5Config): Promise<Supervisor> {
  const sup = await createSupervisor({ store: memoryStore(), clock: systemClock(), schedule: false });
  const tasks = benchTasks(config.tasks);
  const random = seededRandom(5);
  await inChunks(tasks, CHUNK, (task) => sup.create(task));
  const claimed = tasks.filter((_, index) => index % 5 < 3);
  const leases = await inChunks(claimed, CHUNK, (task, index) =>
    sup.claim(task.id, { owner: `owner-${index % config.owners}`, leaseMs: Math.round(30 * 60_000 + random() * 60 * 60_000) }),
  );
  await inChunks(leases.filter((_, index) => index % 6 === 0), CHUNK, (lease) => sup.complete(lease.taskId, lease));
  return sup;
}

/** Times `queries` calls of each read; the first answers are checked against the other variant's. */
function measure(sup: Supervisor, reads: typeof library | typeof baseline, queries: number): W5Metrics {
  const timed = (read: (sup: Supervisor) => unknown) => {
    const samples: number[] = [];
    for (let n = 0; n < queries; n++) {
      const started = performance.now();
      read(sup);
      samples.push(performance.now() - started);
    }
    return latencySummary(samples);
  };
  const leased = timed(reads.leased);
  const search = timed(reads.search);
  const agents = timed(reads.agents);
  return {
    leasedP50Ms: leased.p50Ms,
    leasedP99Ms: leased.p99Ms,
    searchP50Ms: search.p50Ms,
    searchP99Ms: search.p99Ms,
    agentsP50Ms: agents.p50Ms,
    agentsP99Ms: agents.p99Ms,
  };
}

/** Both ways must answer the same tasks (and owners), or the timing compares nothing. */
function checkSameAnswers(sup: Supervisor): void {
  const ids = (tasks: TaskView[]) => tasks.map((task) => task.id).join(',');
  for (const read of ['leased', 'search'] as const) {
    if (ids(library[read](sup)) !== ids(baseline[read](sup))) throw new Error(`W5: page and list + JS answer different ${read} tasks`);
  }
  const owners = (agents: { owner: string }[]) => agents.map((agent) => agent.owner).join(',');
  if (owners(library.agents(sup)) !== owners(baseline.agents(sup))) throw new Error('W5: agents() and list + JS see different owners');
  if (library.search(sup).length === 0 || library.leased(sup).length === 0) throw new Error('W5: a query matched nothing');
}

export async function runW5(config: W5Config, progress: (line: string) => void) {
  const started = performance.now();
  const sup = await populate(config);
  progress(`  ${config.tasks} tasks ready in ${((performance.now() - started) / 1000).toFixed(1)} s (${sup.stats().byState.leased} leased)`);
  try {
    checkSameAnswers(sup);
    return await alternate<W5Metrics>(
      [
        { name: 'leasehold-page', run: async () => measure(sup, library, config.queries) },
        { name: 'list-js', run: async () => measure(sup, baseline, config.queries) },
      ],
      config.repeats,
      progress,
    );
  } finally {
    await sup.close();
  }
}
