// Random schedules (issue 3, item 4): many owners issue random commands with random clock
// advances and random restarts against one supervisor; after every command the shared
// invariant checker (test/invariants.ts) runs, every acknowledged lease is fed to it, a
// rejected call must have left the store exactly as it was (invariant 5: no commit at all,
// and for the JSON file the same bytes; the one exception is the late-progress capture of
// an `expired` heartbeat), and any error that is not a LeaseholdError fails the schedule.
//
// Most schedules run on memoryStore (close + reopen of the same instance is a restart); a
// smaller number run on the real JSON file store, and (in the vitest project `postgres`, which
// runs only those) on the PostgreSQL store. Seeds are random per run unless
// LEASEHOLD_SEED is set; LEASEHOLD_SCHEDULES sets how many memory schedules run (default
// 10 000; the JSON count follows at 1/50). LEASEHOLD_SCHEDULE_STATS=1 prints how often each
// outcome occurred. A failure prints fast-check's seed and path, the shrunk command list,
// the step that failed and why, and the command line that replays it
// (LEASEHOLD_SEED=… LEASEHOLD_PATH=memory:… or json:…).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { afterAll, describe, it } from 'vitest';
import {
  createSupervisor,
  jsonFileStore,
  LeaseholdError,
  memoryStore,
  type Compensator,
  type ExtensionProbe,
  type Json,
  type Lease,
  type Priority,
  type Store,
  type Supervisor,
  type TaskLimits,
  type TaskView,
} from '../../src/index.js';
import { statePath } from '../../src/task/view.js';
import { createTestClock, type TestClock } from '../../src/testing.js';
import { createInvariantChecker, type InvariantChecker } from '../invariants.js';
import { freshSchema, storeIn } from '../postgres/database.js';
import { dropPostgresStore, durableDocument, postgresBytes, postgresDocument, STORE_KIND, storeBytes, storeOf } from '../support.js';

// ---------------------------------------------------------------------------------------
// configuration

const T0 = Date.UTC(2026, 0, 1);

const MEMORY_RUNS = positiveInt('LEASEHOLD_SCHEDULES') ?? 10_000;
const JSON_RUNS = Math.max(1, Math.round(MEMORY_RUNS / 50));
const POSTGRES_RUNS = JSON_RUNS;
/** The `postgres` project runs the PostgreSQL schedules only; the others run the rest. */
const ON_POSTGRES = STORE_KIND === 'postgres';

type Kind = 'memory' | 'json' | 'postgres';
const SEED = process.env.LEASEHOLD_SEED !== undefined ? Number(process.env.LEASEHOLD_SEED) : Math.floor(Math.random() * 2 ** 31);
/** `memory:<path>` or `json:<path>`: replays one counterexample of that suite. */
const REPLAY = process.env.LEASEHOLD_PATH;
/** Commands per schedule: up to SHORT_MAX, or up to LONG_MAX for one schedule in ten. */
const SHORT_MAX = 6;
const LONG_MAX = 24;
/** One schedule takes milliseconds; this long means it hangs. */
const RUN_TIMEOUT_MS = 20_000;

if (!Number.isInteger(SEED)) throw new Error(`LEASEHOLD_SEED must be an integer, got ${process.env.LEASEHOLD_SEED}`);

function positiveInt(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, got ${raw}`);
  return value;
}

/** Small limits, so schedules of a few commands cross every deadline and bound. */
const DEFAULTS: Partial<TaskLimits> = {
  leaseMs: 100,
  graceMs: 50,
  maxAttempts: 2,
  maxStale: 2,
  maxRenewals: 3,
  retryBackoffMs: 20,
  maxRetryBackoffMs: 40,
  compensationAttempts: 2,
  compensationBackoffMs: 10,
};

/** How long the model's held-open probe may take before the supervisor gives up on it. */
const PROBE_TIMEOUT_MS = 200;

const OWNERS = ['o0', 'o1', 'o2', 'o3'];
const TASKS = ['t0', 't1', 't2', 't3'];
const PRIORITY_ORDER: Priority[] = ['critical', 'high', 'medium', 'low'];
const LABELS = ['gpu', 'py'];
/** `undo-missing` has no compensator registered. */
const ACTIONS = ['undo-ok', 'undo-flaky', 'undo-broken', 'undo-missing'] as const;
type Action = (typeof ACTIONS)[number];
const TERMINAL = new Set(['completed', 'compensated', 'quarantined']);

// ---------------------------------------------------------------------------------------
// commands

/**
 * Which epoch an owner call carries: the one the caller was last acknowledged on that task
 * (stale once someone else claimed it), one below the task's current epoch, the current one
 * (right epoch, maybe wrong owner), or one ahead.
 */
type EpochChoice = 'mine' | 'older' | 'current' | 'ahead';
/** Who makes an owner call: one of OWNERS, or whoever holds the task's lease right then. */
type OwnerChoice = number | 'holder';

interface TaskSpec {
  priority: Priority;
  labels: string[];
  compensations: Action[];
  graceZero: boolean;
}

/** A command; `T` is how it names its task (an index while generated, the task id once resolved). */
type CommandOf<T> =
  | ({ do: 'create'; task: T } & TaskSpec)
  | { do: 'claim'; owner: number; task: T; leaseMs?: number }
  | { do: 'claimNext'; owner: number; labels?: string[]; leaseMs?: number }
  | { do: 'race'; owners: number[]; task: T | null }
  | { do: 'heartbeat'; owner: OwnerChoice; task: T; epoch: EpochChoice; leaseMs?: number; progress?: number; message?: string }
  | { do: 'extend'; owner: OwnerChoice; task: T; epoch: EpochChoice; windowMs: number }
  | { do: 'addCompensation'; owner: OwnerChoice; task: T; epoch: EpochChoice; action: Action }
  | { do: 'complete'; owner: OwnerChoice; task: T; epoch: EpochChoice }
  | { do: 'fail'; owner: OwnerChoice; task: T; epoch: EpochChoice; retryable: boolean }
  | { do: 'release'; owner: OwnerChoice; task: T; epoch: EpochChoice }
  | { do: 'quarantine'; task: T }
  | { do: 'annotate'; task: T; value: number }
  | { do: 'advance'; by: number | 'nextTimer' | 'justBeforeNextTimer' }
  | { do: 'restart'; downMs: number }
  | { do: 'crash' }
  | { do: 'probesAnswer' };

type Command = CommandOf<string>;

/** A task created before the first command; `history` claim/release rounds give it earlier epochs. */
interface SetupTask extends TaskSpec {
  history: number;
}

interface Schedule {
  tasks: SetupTask[];
  commands: Command[];
  /**
   * null: no extension probe (grace ends at its deadline). A number: the supervisor has an
   * extension probe, asked whenever a grace period ends; it answers only at a `probesAnswer`
   * command (until then the task waits in stale.deciding while commands go on) and grants
   * that many 30 ms extensions per lease.
   */
  probeGrants: number | null;
}

const opt = (key: string, value: unknown) => (value === undefined ? '' : ` ${key}=${JSON.stringify(value)}`);
const specText = (s: TaskSpec) =>
  `priority=${s.priority} labels=[${s.labels.join(',')}] compensations=[${s.compensations.join(',')}]${s.graceZero ? ' graceMs=0' : ''}`;
const ownerText = (o: OwnerChoice) => (o === 'holder' ? 'the holder' : OWNERS[o]);

function show(c: Command): string {
  switch (c.do) {
    case 'create':
      return `create ${c.task} ${specText(c)}`;
    case 'claim':
      return `claim ${c.task} by ${OWNERS[c.owner]}${opt('leaseMs', c.leaseMs)}`;
    case 'claimNext':
      return `claimNext by ${OWNERS[c.owner]}${opt('labels', c.labels)}${opt('leaseMs', c.leaseMs)}`;
    case 'race':
      return `race: concurrent ${c.task === null ? 'claimNext' : `claim ${c.task}`} by ${c.owners.map((o) => OWNERS[o]).join(', ')}`;
    case 'heartbeat':
      return `heartbeat ${c.task} by ${ownerText(c.owner)} epoch=${c.epoch}${opt('leaseMs', c.leaseMs)}${opt('progress', c.progress)}${opt('message', c.message)}`;
    case 'extend':
      return `extend ${c.task} by ${ownerText(c.owner)} epoch=${c.epoch} windowMs=${c.windowMs}`;
    case 'addCompensation':
      return `addCompensation ${c.task} by ${ownerText(c.owner)} epoch=${c.epoch} action=${c.action}`;
    case 'complete':
    case 'release':
      return `${c.do} ${c.task} by ${ownerText(c.owner)} epoch=${c.epoch}`;
    case 'fail':
      return `fail ${c.task} by ${ownerText(c.owner)} epoch=${c.epoch} retryable=${c.retryable}`;
    case 'quarantine':
      return `quarantine ${c.task}`;
    case 'annotate':
      return `annotate ${c.task} n=${c.value}`;
    case 'advance':
      return `advance ${typeof c.by === 'number' ? `${c.by} ms` : c.by}`;
    case 'restart':
      return c.downMs > 0 ? `restart (down ${c.downMs} ms)` : 'restart';
    case 'crash':
      return 'crash (close without waiting for background work, reopen)';
    case 'probesAnswer':
      return 'pending extension probes answer';
  }
}

function showSchedule(s: Schedule): string {
  const lines = s.tasks.map(
    (spec, i) =>
      `  setup: create ${TASKS[i]} ${specText(spec)}` +
      (spec.history > 0 ? `, then claimed and released ${spec.history}x (by ${historyOwners(i, spec.history).join(', ')})` : ''),
  );
  if (s.probeGrants !== null) {
    lines.unshift(`  setup: an extension probe that, when told to answer, grants ${s.probeGrants} grace extension(s) of 30 ms per lease`);
  }
  s.commands.forEach((c, i) => lines.push(`  ${String(i + 1).padStart(2)}. ${show(c)}`));
  return `schedule (${s.commands.length} commands):\n${lines.join('\n')}`;
}

// ---------------------------------------------------------------------------------------
// arbitraries

const owner = fc.integer({ min: 0, max: OWNERS.length - 1 });
/** Owner calls mostly come from the holder (else nearly all bounce); the rest from anyone. */
const caller = fc.oneof({ arbitrary: fc.constant('holder' as const), weight: 3 }, { arbitrary: owner, weight: 2 });
/**
 * A task, as an index: 0–6 pick among the tasks that exist at that point of the schedule,
 * 7 names t3, which exists only if a command created it. Resolved to ids once the whole
 * schedule is known (`resolve`), so the printed counterexample names real tasks.
 */
const task = fc.integer({ min: 0, max: 7 });
const epoch = fc.oneof(
  { arbitrary: fc.constant<EpochChoice>('mine'), weight: 8 },
  { arbitrary: fc.constantFrom<EpochChoice>('older', 'current', 'ahead'), weight: 3 },
);
const leaseMs = fc.constantFrom(1, 30, 100, 250);
const action = fc.constantFrom(...ACTIONS);

function taskSpecShape() {
  return {
    priority: fc.constantFrom(...PRIORITY_ORDER),
    labels: fc.subarray(LABELS),
    compensations: fc.array(action, { maxLength: 2 }),
    graceZero: fc.boolean(),
  };
}
const setupTask: fc.Arbitrary<SetupTask> = fc.record({
  ...taskSpecShape(),
  history: fc.oneof({ arbitrary: fc.constant(0), weight: 3 }, { arbitrary: fc.integer({ min: 1, max: 2 }), weight: 1 }),
});
/** Who claimed and released setup task `i` in its history rounds. */
const historyOwners = (i: number, rounds: number) => Array.from({ length: rounds }, (_, k) => OWNERS[(i + k + 1) % OWNERS.length]!);

const command: fc.Arbitrary<CommandOf<number>> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ do: fc.constant('create' as const), task: fc.integer({ min: 0, max: 3 }), ...taskSpecShape() }) },
  { weight: 12, arbitrary: fc.record({ do: fc.constant('claim' as const), owner, task, leaseMs }, { requiredKeys: ['do', 'owner', 'task'] }) },
  {
    weight: 6,
    arbitrary: fc.record(
      { do: fc.constant('claimNext' as const), owner, labels: fc.subarray([...LABELS, 'js'], { maxLength: 2 }), leaseMs },
      { requiredKeys: ['do', 'owner'] },
    ),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      do: fc.constant('race' as const),
      owners: fc.uniqueArray(owner, { minLength: 2, maxLength: 4 }),
      task: fc.option(task, { nil: null }),
    }),
  },
  {
    weight: 14,
    arbitrary: fc.record(
      {
        do: fc.constant('heartbeat' as const),
        owner: caller,
        task,
        epoch,
        leaseMs,
        progress: fc.constantFrom(0, 10, 50, 90, 100),
        message: fc.constantFrom('halfway', 'almost'),
      },
      { requiredKeys: ['do', 'owner', 'task', 'epoch'] },
    ),
  },
  { weight: 4, arbitrary: fc.record({ do: fc.constant('extend' as const), owner: caller, task, epoch, windowMs: fc.constantFrom(1, 50, 150, 300) }) },
  { weight: 5, arbitrary: fc.record({ do: fc.constant('addCompensation' as const), owner: caller, task, epoch, action }) },
  { weight: 5, arbitrary: fc.record({ do: fc.constant('complete' as const), owner: caller, task, epoch }) },
  { weight: 8, arbitrary: fc.record({ do: fc.constant('fail' as const), owner: caller, task, epoch, retryable: fc.boolean() }) },
  { weight: 4, arbitrary: fc.record({ do: fc.constant('release' as const), owner: caller, task, epoch }) },
  { weight: 2, arbitrary: fc.record({ do: fc.constant('quarantine' as const), task }) },
  { weight: 2, arbitrary: fc.record({ do: fc.constant('annotate' as const), task, value: fc.integer({ min: 0, max: 9 }) }) },
  {
    weight: 18,
    arbitrary: fc.record({
      do: fc.constant('advance' as const),
      by: fc.oneof(
        fc.integer({ min: 1, max: 30 }),
        fc.constantFrom(10, 20, 50, 100, 150, 400),
        fc.constantFrom('nextTimer' as const, 'justBeforeNextTimer' as const),
      ),
    }),
  },
  { weight: 3, arbitrary: fc.record({ do: fc.constant('restart' as const), downMs: fc.constantFrom(0, 0, 0, 60, 200) }) },
  { weight: 2, arbitrary: fc.constant({ do: 'crash' as const }) },
  { weight: 4, arbitrary: fc.constant({ do: 'probesAnswer' as const }) },
);

/** Names each command's task: creates name theirs; others pick among the tasks created before them. */
function resolve(tasks: SetupTask[], commands: CommandOf<number>[], probeGrants: number | null): Schedule {
  const existing = tasks.map((_, i) => TASKS[i]!);
  const pick = (n: number) => (n === 7 ? TASKS[3]! : existing[n % existing.length]!);
  const resolved = commands.map((c): Command => {
    if (c.do === 'create') {
      const id = TASKS[c.task]!;
      if (!existing.includes(id)) existing.push(id);
      return { ...c, task: id };
    }
    if (c.do === 'race') return { ...c, task: c.task === null ? null : pick(c.task) };
    if ('task' in c) return { ...c, task: pick(c.task) } as Command;
    return c;
  });
  const s: Schedule = { tasks, commands: resolved, probeGrants };
  return Object.assign(s, { [fc.toStringMethod]: () => showSchedule(s) });
}

const schedule: fc.Arbitrary<Schedule> = fc
  .record({
    tasks: fc.array(setupTask, { minLength: 1, maxLength: 3 }),
    // mostly short schedules, for numbers; one in ten long, to reach deep histories
    commands: fc.oneof(
      { weight: 9, arbitrary: fc.array(command, { minLength: 1, maxLength: SHORT_MAX, size: 'max' }) },
      { weight: 1, arbitrary: fc.array(command, { minLength: 1, maxLength: LONG_MAX, size: 'max' }) },
    ),
    probeGrants: fc.oneof({ arbitrary: fc.constant(null), weight: 3 }, { arbitrary: fc.integer({ min: 0, max: 2 }), weight: 1 }),
  })
  .map(({ tasks, commands, probeGrants }) => resolve(tasks, commands, probeGrants));

// ---------------------------------------------------------------------------------------
// a store that remembers what it made durable

interface Recorder {
  /** A store to open the next supervisor on (the same data every time). */
  store(): Store;
  /** Commits that reached the store. */
  readonly commits: number;
  /** What the store durably holds: task id → record as JSON. */
  readonly records: ReadonlyMap<string, string>;
  /** The store files' bytes (snapshot and journal), for the JSON store. */
  bytes(): string | undefined;
  /** The tasks a store opening the JSON store now would read. */
  durableTasks(): Record<string, unknown>;
  dispose(): void;
}

function recorder(kind: Kind, violation: (message: string) => void): Recorder {
  const memory = kind === 'memory' ? memoryStore() : undefined;
  const dir = kind === 'json' ? mkdtempSync(join(tmpdir(), 'leasehold-schedule-')) : undefined;
  const file = dir && join(dir, 'store.json');
  const postgres = kind === 'postgres' ? storeIn(freshSchema('sched')).location : undefined;
  let commits = 0;
  let opened = false;
  let records = new Map<string, string>();

  return {
    store() {
      const inner = memory ?? (postgres ? storeOf(postgres, 'postgres') : jsonFileStore(file!));
      return {
        location: inner.location,
        async open() {
          const contents = await inner.open();
          const reopened = new Map([...contents.tasks].map(([id, record]) => [id, JSON.stringify(record)]));
          if (opened && !isDeepStrictEqual(reopened, records)) {
            violation('the reopened store does not hold what was last committed');
          }
          opened = true;
          records = reopened;
          return contents;
        },
        async commit(changes) {
          await inner.commit(changes);
          commits++;
          for (const [id, record] of changes) {
            if (record === null) records.delete(id);
            else records.set(id, JSON.stringify(record));
          }
        },
        close: () => inner.close(),
      };
    },
    get commits() {
      return commits;
    },
    get records() {
      return records;
    },
    bytes: () => (file ? storeBytes(file) : postgres ? postgresBytes(postgres) : undefined),
    durableTasks: () => (file ? durableDocument(file).tasks : postgres ? postgresDocument(postgres).tasks : {}),
    dispose: () => {
      if (dir) rmSync(dir, { recursive: true, force: true });
      if (postgres) dropPostgresStore(postgres);
    },
  };
}

// ---------------------------------------------------------------------------------------
// running one schedule

interface StoredRecord {
  state: unknown;
  context: Record<string, unknown> & { compensations: { seq: number; args: Json; status: string }[] };
}

interface World {
  clock: TestClock;
  sup: Supervisor;
  checker: InvariantChecker;
  recorder: Recorder;
  violations: string[];
  /** Epoch each owner was last acknowledged on each task: `owner task` → epoch. */
  remembered: Map<string, number>;
  /** Creation order of the tasks (claimNext's last tie-breaker). */
  created: string[];
  nextToken: number;
  calls: Map<number, number>;
  succeeded: Map<number, number>;
  generation: number;
  /** Generations whose close() has resolved. */
  closed: Set<number>;
  /** The tasks as read before the current command ran (settled, unless it is a crash). */
  views: TaskView[];
  /** The tasks as read after it ran, once read (see `after`), and the store's commit count then. */
  post: TaskView[] | undefined;
  postCommits: number;
  /** The last views found to match the store, at that commit count: no need to compare them again. */
  verified: { views: TaskView[]; commits: number } | undefined;
  /** Who the current owner call was made as, for the failure message. */
  resolved: string;
  probeGrants: number | null;
  /** Answers of extension probes asked and not answered yet. */
  pendingProbes: (() => void)[];
}

/** The tasks now, read once per command after it ran (sup.list() deep-copies every task). */
function after(w: World): TaskView[] {
  if (!w.post) {
    w.post = w.sup.list();
    w.postCommits = w.recorder.commits;
  }
  return w.post;
}

let commandsRun = 0;
/** Outcome counts (printed with LEASEHOLD_SCHEDULE_STATS=1, to see what the schedules reach). */
const tallies = new Map<string, number>();
const tally = (key: string) => tallies.set(key, (tallies.get(key) ?? 0) + 1);

async function runSchedule(s: Schedule, kind: Kind): Promise<void> {
  const violations: string[] = [];
  const w: World = {
    // A probe is held open until a command answers it: the clock must not wait for it.
    clock: createTestClock(T0, { awaitWork: s.probeGrants === null }),
    sup: undefined as unknown as Supervisor,
    checker: createInvariantChecker(),
    recorder: recorder(kind, (message) => violations.push(message)),
    violations,
    remembered: new Map(),
    created: [],
    nextToken: 1,
    calls: new Map(),
    succeeded: new Map(),
    generation: 0,
    closed: new Set(),
    views: [],
    post: undefined,
    postCommits: -1,
    verified: undefined,
    resolved: '',
    probeGrants: s.probeGrants,
    pendingProbes: [],
  };
  let step = 'setup';
  try {
    w.sup = await open(w);
    for (const [i, spec] of s.tasks.entries()) {
      step = `setup: create ${TASKS[i]}`;
      await w.sup.create(createInput(w, TASKS[i]!, spec));
      w.created.push(TASKS[i]!);
      for (const ownerName of historyOwners(i, spec.history)) {
        const lease = await w.sup.claim(TASKS[i]!, { owner: ownerName });
        acknowledgeClaim(w, lease, w.clock.now());
        await w.sup.release(TASKS[i]!, { owner: ownerName, epoch: lease.epoch, reason: 'setup' });
        w.checker.ended(TASKS[i]!, lease.epoch, ownerName);
      }
    }
    w.checker.check(w.sup, w.clock.now());
    for (const [i, c] of s.commands.entries()) {
      step = `step ${i + 1} (${show(c)})`;
      w.resolved = '';
      await runCommand(w, c);
      commandsRun++;
    }
    step = 'end of schedule';
    await w.clock.settle();
    const views = w.sup.list();
    for (const view of views) tally(`final state: ${view.substate}`);
    w.checker.check({ list: () => views }, w.clock.now());
    settledChecks(w, views);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`${step}${w.resolved ? ` [${w.resolved}]` : ''}: ${message}\n  at t=${w.clock.now() - T0} ms\n  tasks now: ${summary(w)}`, { cause: error });
  } finally {
    await w.sup?.close().catch(() => {});
    w.recorder.dispose();
  }
}

function summary(w: World): string {
  try {
    return w.sup
      .list()
      .map((t) => `${t.id}=${t.substate}#${t.epoch}${t.lease ? `(${t.lease.owner} until t=${t.lease.expiresAt - T0})` : ''}`)
      .join(' ');
  } catch {
    return '(unavailable)';
  }
}

async function open(w: World): Promise<Supervisor> {
  const generation = ++w.generation;
  const compensator =
    (behaviour: 'ok' | 'flaky' | 'broken'): Compensator =>
    async (args, task) => {
      const token = (args as { token: number }).token;
      const calls = (w.calls.get(token) ?? 0) + 1;
      w.calls.set(token, calls);
      compensationStarts(w, generation, token, task);
      await Promise.resolve();
      tally(`compensator ${behaviour} call`);
      if (behaviour === 'broken') throw new Error(`undo ${token} failed`);
      if (behaviour === 'flaky' && calls === 1) throw new Error(`undo ${token} flaked`);
      w.succeeded.set(token, (w.succeeded.get(token) ?? 0) + 1);
    };
  const probe: ExtensionProbe = ({ extensions }) =>
    new Promise((resolve) => {
      const grant = (extensions.probe ?? 0) < w.probeGrants!;
      w.pendingProbes.push(() => {
        tally(`probe ${grant ? 'granted' : 'declined'}`);
        resolve(grant ? { extendMs: 30, reason: 'probe' } : null);
      });
    });
  return createSupervisor({
    store: w.recorder.store(),
    ...(w.probeGrants === null ? {} : { probes: [probe] }),
    clock: w.clock,
    defaults: DEFAULTS,
    compensators: { 'undo-ok': compensator('ok'), 'undo-flaky': compensator('flaky'), 'undo-broken': compensator('broken') },
    // A probe not answered within probeTimeoutMs of clock time is given up on (grants nothing,
    // logged): the design's "a hang grants nothing". Short here, so schedules cross it.
    probeTimeoutMs: PROBE_TIMEOUT_MS,
    logger: {
      warn: (message, ...details) => {
        if (message.includes('an extension probe did not answer within')) return tally('probe timed out');
        w.violations.push(`supervisor warned: ${message} ${details.map(String).join(' ')}`);
      },
    },
  });
}

/** Invariant 4 from the compensator's side: the durable ledger says "running" before the side effect, newest first. */
function compensationStarts(w: World, generation: number, token: number, task: TaskView) {
  const at = `compensation token ${token} of ${task.id}`;
  if (w.closed.has(generation)) w.violations.push(`${at} started after its supervisor's close() resolved`);
  const record = w.recorder.records.get(task.id);
  const ledger = record ? (JSON.parse(record) as StoredRecord).context.compensations : [];
  const entry = ledger.find((e) => (e.args as { token?: number } | null)?.token === token);
  if (entry?.status !== 'running') w.violations.push(`${at} started while the store says ${entry?.status ?? 'nothing'} (must be running)`);
  if (entry && ledger.some((e) => e.seq > entry.seq && e.status !== 'done')) {
    w.violations.push(`${at} started before a newer compensation was done`);
  }
  const viewed = task.compensations.find((e) => (e.args as { token?: number } | null)?.token === token);
  if (viewed?.status !== 'running') w.violations.push(`${at}: the task handed to the compensator says ${viewed?.status}`);
}

function createInput(w: World, id: string, spec: TaskSpec) {
  return {
    id,
    priority: spec.priority,
    labels: spec.labels,
    compensations: spec.compensations.map((action) => ({ action, args: { token: w.nextToken++ } })),
    ...(spec.graceZero ? { graceMs: 0 } : {}),
  };
}

const key = (ownerName: string, taskId: string) => `${ownerName} ${taskId}`;

function epochFor(w: World, choice: EpochChoice, ownerName: string, id: string, pre: TaskView | undefined): number {
  const mine = w.remembered.get(key(ownerName, id)) ?? 1;
  switch (choice) {
    case 'mine':
      return mine;
    case 'older':
      return Math.max(1, (pre?.epoch ?? 1) - 1);
    case 'current':
      return Math.max(1, pre?.epoch ?? 1);
    case 'ahead':
      return (pre?.epoch ?? 0) + 1;
  }
}

/** What the design's table says a command does to a task in the state `pre`: 'ok' or the refusal. */
function expectedOutcome(c: Command, pre: TaskView | undefined, call: { owner?: string; epoch?: number }, now: number): string {
  if (c.do === 'create') return pre ? 'DUPLICATE_TASK' : 'ok';
  if (!pre) return 'TASK_NOT_FOUND';
  if (c.do === 'annotate') return 'ok';
  if (TERMINAL.has(pre.state)) return 'TERMINAL_TASK';
  if (c.do === 'quarantine') return 'ok';
  if (pre.state === 'failed') return 'TERMINAL_TASK';
  if (c.do === 'claim' || c.do === 'race') {
    const byState: Record<string, string> = {
      'planned.ready': 'ok',
      'planned.backoff': 'LEASE_CONFLICT backoff',
      leased: 'LEASE_CONFLICT held',
      'stale.grace': 'LEASE_CONFLICT in_grace',
      'stale.deciding': 'LEASE_CONFLICT in_grace',
      'stale.expired': 'ok',
    };
    return byState[pre.substate] ?? `unknown state ${pre.substate}`;
  }
  if (pre.state === 'planned') return 'LEASE_CONFLICT no_lease';
  const lease = pre.lease!;
  if (lease.owner !== call.owner) return 'LEASE_CONFLICT not_owner';
  if (lease.epoch !== call.epoch) return 'LEASE_CONFLICT stale_epoch';
  if (c.do === 'heartbeat') {
    if (pre.substate === 'stale.expired') return 'LEASE_CONFLICT expired';
    if (pre.state === 'stale') return 'ok';
    return now + (c.leaseMs ?? lease.leaseMs) > lease.expiresAt ? 'ok' : 'LEASE_CONFLICT not_extending';
  }
  if (c.do === 'extend') return pre.state === 'leased' ? 'ok' : 'LEASE_CONFLICT expired';
  return 'ok';
}

const outcomeOf = (error: unknown) =>
  `${(error as LeaseholdError).code}${(error as { reason?: string }).reason ? ` ${(error as { reason: string }).reason}` : ''}`;

function fail(message: string, details?: unknown): never {
  throw new Error(details === undefined ? message : `${message}\n${JSON.stringify(details, null, 2)}`);
}

function assertNoViolations(w: World) {
  if (w.violations.length > 0) fail(`violations:\n  ${w.violations.join('\n  ')}`);
}

/**
 * Checks that hold once nothing runs in the background: every task the supervisor shows is
 * what the store durably holds, and a compensated task really ran every compensation.
 */
function settledChecks(w: World, views: TaskView[]) {
  assertNoViolations(w);
  if (views.length !== w.recorder.records.size) fail(`the store holds ${w.recorder.records.size} tasks, the supervisor ${views.length}`);
  for (const view of views) matchesStore(w, view);
  for (const view of views) {
    if (view.state !== 'compensated') continue;
    for (const entry of view.compensations) {
      const token = (entry.args as { token: number }).token;
      if (entry.action === 'undo-missing' || entry.action === 'undo-broken') fail(`${view.id} compensated although ${entry.action} cannot succeed`, view.compensations);
      if (!w.succeeded.get(token)) fail(`${view.id} compensated but compensation ${token} (${entry.action}) never succeeded`, view.compensations);
    }
  }
}

const DURABLE_FIELDS = ['epoch', 'attempts', 'staleCount', 'progress', 'message', 'notBefore', 'compensations', 'recovery', 'failure', 'terminal', 'metadata', 'audit'] as const;

/** Invariant 5: what the supervisor shows of `view` is in the store. */
function matchesStore(w: World, view: TaskView) {
  const raw = w.recorder.records.get(view.id);
  if (!raw) return fail(`${view.id} acknowledged but not in the store`);
  const record = parsed(raw);
  const path = statePath(record.state);
  if (path !== view.substate) fail(`${view.id} is ${view.substate} but the store says ${path}`);
  for (const field of DURABLE_FIELDS) {
    if (!isDeepStrictEqual(record.context[field], view[field])) {
      fail(`${view.id}.${field} differs from the store`, { store: record.context[field], view: view[field] });
    }
  }
  const lease = record.context.lease as Lease | null;
  if ((lease === null) !== (view.lease === null) || (lease && (lease.owner !== view.lease!.owner || lease.epoch !== view.lease!.epoch || lease.expiresAt !== view.lease!.expiresAt))) {
    fail(`${view.id}'s lease differs from the store`, { store: lease, view: view.lease });
  }
}

const parsedRecords = new Map<string, StoredRecord>();
/** Stored records parsed once (most steps leave most records as they were). */
function parsed(raw: string): StoredRecord {
  let record = parsedRecords.get(raw);
  if (!record) {
    if (parsedRecords.size > 2_000) parsedRecords.clear();
    record = JSON.parse(raw) as StoredRecord;
    parsedRecords.set(raw, record);
  }
  return record;
}

type Fingerprint = { commits: number; records: Map<string, string>; bytes: string | undefined; views: TaskView[] };
const fingerprint = (w: World): Fingerprint => ({
  commits: w.recorder.commits,
  records: new Map(w.recorder.records),
  bytes: w.recorder.bytes(),
  views: w.views,
});

/** Invariant 2/5: a rejected call left the store (and every task) as it was. */
function unchanged(w: World, before: Fingerprint, what: string) {
  if (w.recorder.commits !== before.commits) fail(`${what}: the store was written ${w.recorder.commits - before.commits} time(s)`);
  if (before.bytes !== undefined && w.recorder.bytes() !== before.bytes) fail(`${what}: the store file's bytes changed`);
  const views = after(w);
  if (!isDeepStrictEqual(views, before.views)) fail(`${what}: the tasks changed`, { before: before.views, after: views });
  w.post = before.views; // the same, and already compared with the store
}

/** The one exception: an `expired` heartbeat with progress ≥ the recorded one keeps that progress (and message). */
function lateProgressOnly(w: World, before: Fingerprint, pre: TaskView, progress: number, message: string | undefined) {
  const what = `refused expired heartbeat on ${pre.id}`;
  for (const [id, raw] of w.recorder.records) {
    if (id !== pre.id && before.records.get(id) !== raw) fail(`${what}: task ${id} changed in the store`);
  }
  const now = after(w).find((v) => v.id === pre.id)!;
  const strip = (v: TaskView) => ({ ...v, progress: 0, message: null, audit: [] });
  if (!isDeepStrictEqual(strip(now), strip(pre))) fail(`${what}: more than progress/message changed`, { before: pre, after: now });
  if (now.progress !== Math.max(pre.progress, progress)) fail(`${what}: progress ${now.progress}, expected ${Math.max(pre.progress, progress)}`);
  if (now.message !== (message ?? pre.message)) fail(`${what}: message ${now.message}`);
  const added = now.audit.slice(pre.audit.length);
  if (added.length !== 1 || added[0]!.event !== 'late-progress') fail(`${what}: audit gained ${JSON.stringify(added)}`);
  if (before.bytes !== undefined) {
    if (JSON.stringify(w.recorder.durableTasks()[pre.id]) !== w.recorder.records.get(pre.id)) fail(`${what}: the file does not hold the captured progress`);
  }
  matchesStore(w, now);
}

async function runCommand(w: World, c: Command): Promise<void> {
  const { clock } = w;
  if (c.do !== 'crash') {
    // Nothing runs in the background from here on, so what changes is this command's doing.
    await clock.settle();
    // Every change is written, so with no write since the last command's views were read,
    // those views are still current (and if they had changed unwritten, the next read after
    // a write, or a restart, would find the store disagreeing).
    w.views = w.post && w.recorder.commits === w.postCommits ? w.post : w.sup.list();
    if (w.verified?.views !== w.views || w.verified.commits !== w.recorder.commits) {
      settledChecks(w, w.views);
      w.verified = { views: w.views, commits: w.recorder.commits };
    }
  } else {
    w.views = w.post ?? w.sup.list();
  }
  w.post = undefined;

  switch (c.do) {
    case 'advance': {
      const next = clock.nextTimerAt();
      if (c.by === 'nextTimer') await clock.advanceTo(next ?? clock.now() + 1);
      else if (c.by === 'justBeforeNextTimer') await clock.advanceTo(next !== undefined && next - 1 > clock.now() ? next - 1 : clock.now());
      else await clock.advance(c.by);
      break;
    }
    case 'restart':
    case 'crash': {
      const before = w.views;
      await w.sup.close();
      w.closed.add(w.generation);
      if (clock.pendingTimers !== 0) fail(`a closed supervisor left ${clock.pendingTimers} timer(s) armed`);
      if (c.do === 'restart' && c.downMs > 0) await clock.advance(c.downMs);
      w.sup = await open(w);
      tally(`${c.do}${c.do === 'restart' && c.downMs > 0 ? ' with time passing while down' : ''}`);
      if (c.do === 'restart' && c.downMs === 0 && !isDeepStrictEqual(after(w), before)) {
        fail('the restored tasks differ from the ones before the restart', { before, after: after(w) });
      }
      break;
    }
    case 'probesAnswer': {
      for (const answer of w.pendingProbes.splice(0)) answer();
      await clock.settle();
      break;
    }
    case 'race': {
      const owners = c.owners.map((o) => OWNERS[o]!);
      const id = c.task;
      const pre = id === null ? undefined : w.views.find((v) => v.id === id);
      const results = await Promise.allSettled(owners.map((o) => (id === null ? w.sup.claimNext({ owner: o }) : w.sup.claim(id, { owner: o }))));
      const now = clock.now();
      let won = 0;
      for (const result of results) {
        if (result.status === 'rejected') {
          if (!(result.reason instanceof LeaseholdError)) throw result.reason;
          continue;
        }
        if (result.value === null) continue;
        won++;
        tally(`race: a claim won`);
        acknowledgeClaim(w, result.value, now);
      }
      if (id !== null) {
        const expected = expectedOutcome(c, pre, {}, now) === 'ok' ? 1 : 0;
        if (won !== expected) fail(`${won} of ${owners.length} concurrent claims won, expected ${expected}`, results);
      }
      break;
    }
    default:
      await runCall(w, c);
  }

  const views = after(w);
  w.checker.check({ list: () => views }, clock.now());
  assertNoViolations(w);
}

function acknowledgeClaim(w: World, lease: Lease, now: number, pre?: TaskView) {
  w.checker.acknowledge(lease, now, 'claim');
  w.remembered.set(key(lease.owner, lease.taskId), lease.epoch);
  if (pre) {
    if (lease.epoch !== pre.epoch + 1) fail(`claim of ${pre.id} got epoch ${lease.epoch} after ${pre.epoch}`);
    // every re-grant carries the previous holder's hand-off
    if (pre.epoch > 0 && lease.recovery?.previousEpoch !== pre.epoch) fail(`re-claim of ${pre.id} without the hand-off of epoch ${pre.epoch}`, lease);
  }
}

type Call = Exclude<Command, { do: 'advance' | 'restart' | 'crash' | 'race' | 'probesAnswer' }>;

async function runCall(w: World, c: Call): Promise<void> {
  const { sup, clock } = w;
  const now = clock.now();
  const before = fingerprint(w);
  const id = 'task' in c ? c.task : '';
  const pre = before.views.find((v) => v.id === id);
  const ownerName = !('owner' in c) ? undefined : c.owner === 'holder' ? (pre?.lease?.owner ?? OWNERS[0]!) : OWNERS[c.owner]!;

  // claimNext: the task it must pick (highest priority, then oldest, then first created)
  if (c.do === 'claimNext') {
    const wanted = c.labels ?? [];
    const candidates = before.views
      .filter((v) => (v.substate === 'planned.ready' || v.substate === 'stale.expired') && wanted.every((l) => v.labels.includes(l)))
      .sort(
        (a, b) =>
          PRIORITY_ORDER.indexOf(a.priority) - PRIORITY_ORDER.indexOf(b.priority) ||
          a.createdAt - b.createdAt ||
          w.created.indexOf(a.id) - w.created.indexOf(b.id),
      );
    let lease: Lease | null;
    try {
      lease = await sup.claimNext({ owner: ownerName!, ...(c.labels ? { labels: c.labels } : {}), ...(c.leaseMs ? { leaseMs: c.leaseMs } : {}) });
    } catch (error) {
      if (!(error instanceof LeaseholdError)) throw error;
      return fail(`claimNext refused: ${outcomeOf(error)} (${error.message})`);
    }
    tally(`claimNext: ${lease === null ? 'null' : 'ok'}`);
    if (lease === null) {
      if (candidates.length > 0) fail(`claimNext returned null with ${candidates.map((v) => v.id).join(', ')} claimable`);
      return unchanged(w, before, 'claimNext with nothing to claim');
    }
    const chosen = candidates[0];
    if (lease.taskId !== chosen?.id) fail(`claimNext picked ${lease.taskId}, expected ${chosen?.id ?? 'nothing'}`, candidates.map((v) => v.id));
    acknowledgeClaim(w, lease, now, chosen);
    return afterSuccess(w, c, lease.taskId, chosen);
  }

  const epoch = 'epoch' in c ? epochFor(w, c.epoch, ownerName!, id, pre) : undefined;
  if (epoch !== undefined) w.resolved = `as ${ownerName} with epoch ${epoch}`;
  const expected = expectedOutcome(c, pre, { owner: ownerName, epoch }, now);

  let result: unknown;
  try {
    result = await invoke(w, c, id, ownerName, epoch);
  } catch (error) {
    if (!(error instanceof LeaseholdError)) throw error;
    const got = outcomeOf(error);
    tally(`${c.do}: ${got}${pre ? ` (in ${pre.substate})` : ''}`);
    if (got !== expected) fail(`refused with ${got} (${error.message}), expected ${expected}`);
    if (
      c.do === 'heartbeat' &&
      got === 'LEASE_CONFLICT expired' &&
      pre?.substate === 'stale.expired' &&
      c.progress !== undefined &&
      c.progress >= pre.progress
    ) {
      tally('heartbeat: late progress captured');
      return lateProgressOnly(w, before, pre, c.progress, c.message);
    }
    return unchanged(w, before, `refused ${c.do}`);
  }
  if (expected !== 'ok') fail(`accepted, expected ${expected}`, result);
  tally(`${c.do}: ok${pre ? ` (in ${pre.substate})` : ''}`);

  switch (c.do) {
    case 'create':
      w.created.push(id);
      break;
    case 'claim':
      acknowledgeClaim(w, result as Lease, now, pre);
      break;
    case 'heartbeat':
    case 'extend': {
      const lease = result as Lease;
      w.checker.acknowledge(lease, now, 'renew');
      w.remembered.set(key(lease.owner, lease.taskId), lease.epoch);
      break;
    }
    case 'complete':
    case 'fail':
    case 'release':
      w.checker.ended(id, epoch!, ownerName);
      break;
    default:
  }
  afterSuccess(w, c, id, pre);
}

function invoke(w: World, c: Call, id: string, ownerName: string | undefined, epoch: number | undefined): Promise<unknown> {
  const { sup } = w;
  const owner = ownerName!;
  switch (c.do) {
    case 'create':
      return sup.create(createInput(w, id, c));
    case 'claim':
      return sup.claim(id, { owner, ...(c.leaseMs ? { leaseMs: c.leaseMs } : {}) });
    case 'heartbeat':
      return sup.heartbeat(id, {
        owner,
        epoch: epoch!,
        ...(c.leaseMs ? { leaseMs: c.leaseMs } : {}),
        ...(c.progress !== undefined ? { progress: c.progress } : {}),
        ...(c.message !== undefined ? { message: c.message } : {}),
      });
    case 'extend':
      return sup.extend(id, { owner, epoch: epoch!, windowMs: c.windowMs });
    case 'addCompensation':
      return sup.addCompensation(id, { owner, epoch: epoch!, action: c.action, args: { token: w.nextToken++ } });
    case 'complete':
      return sup.complete(id, { owner, epoch: epoch!, result: { by: owner } });
    case 'fail':
      return sup.fail(id, { owner, epoch: epoch!, error: 'boom', retryable: c.retryable });
    case 'release':
      return sup.release(id, { owner, epoch: epoch!, reason: 'handing back' });
    case 'quarantine':
      return sup.quarantine(id, { by: 'operator', reason: 'poison' });
    case 'annotate':
      return sup.annotate(id, { n: c.value });
    case 'claimNext':
      throw new Error('claimNext is run by runCall');
  }
}

/** The task's state right after an accepted call, as the table says, and that it is durable. */
function afterSuccess(w: World, c: Call, id: string, pre: TaskView | undefined) {
  const view = after(w).find((v) => v.id === id)!;
  const expectState = (states: string[]) => {
    if (!states.includes(view.substate) && !states.includes(view.state)) fail(`${c.do} left ${id} in ${view.substate}, expected ${states.join(' or ')}`);
  };
  switch (c.do) {
    case 'create':
      expectState(['planned.ready']);
      break;
    case 'claim':
    case 'claimNext':
    case 'heartbeat':
    case 'extend':
      expectState(['leased']);
      break;
    case 'release':
      expectState(['planned.ready']);
      break;
    case 'complete':
      expectState(['completed']);
      break;
    case 'fail':
      expectState(c.retryable && pre!.attempts < pre!.limits.maxAttempts ? ['planned.backoff'] : ['failed', 'compensated', 'quarantined']);
      break;
    case 'quarantine':
      expectState(['quarantined']);
      break;
    case 'addCompensation':
      expectState([pre!.substate]);
      if (view.compensations.length !== pre!.compensations.length + 1) fail(`addCompensation did not grow ${id}'s ledger`);
      break;
    default:
  }
  if (c.do === 'heartbeat' && c.progress !== undefined && view.progress !== Math.max(pre!.progress, c.progress)) {
    fail(`heartbeat progress ${c.progress} left ${id} at ${view.progress} (was ${pre!.progress})`);
  }
  // Invariant 5: the call resolved, so its change is in the store (a failed task's
  // compensations may already have moved on in memory; the settled check covers it).
  if (view.state !== 'failed') matchesStore(w, view);
}

// ---------------------------------------------------------------------------------------

const counts = { memory: 0, json: 0, postgres: 0 };

async function runSuite(kind: Kind, numRuns: number) {
  const replay = REPLAY?.startsWith(`${kind}:`) ? REPLAY.slice(kind.length + 1) : undefined;
  if (REPLAY && !replay) return; // replaying the other suite's counterexample
  const property = fc.asyncProperty(schedule, async (s) => {
    counts[kind]++;
    await runSchedule(s, kind);
  });
  // A schedule that hangs (a call that never settles) fails after RUN_TIMEOUT_MS like any other.
  const details = await fc.check(property, { seed: SEED, numRuns, timeout: RUN_TIMEOUT_MS, ...(replay ? { path: replay } : {}) });
  if (details.failed) {
    const replayLine = `replay: LEASEHOLD_SEED=${details.seed} LEASEHOLD_PATH=${kind}:${details.counterexamplePath} npx vitest run test/model/schedules.test.ts`;
    const cause = details.errorInstance;
    const error = cause instanceof Error ? (cause.stack ?? cause.message) : String(cause);
    throw new Error(
      `random schedules on ${kind} store failed\n${replayLine}\n\n${fc.defaultReportMessage(details)}\n\nError: ${error}\n\n${replayLine}`,
      { cause },
    );
  }
}

describe(`random schedules (seed ${SEED})`, () => {
  afterAll(() => {
    if (process.env.LEASEHOLD_SCHEDULE_STATS) {
      console.log([...tallies].sort(([a], [b]) => a.localeCompare(b)).map(([k, n]) => `${String(n).padStart(7)}  ${k}`).join('\n'));
    }
    console.log(
      `random schedules: ${counts.memory} run (memory) + ${counts.json} (json file) + ${counts.postgres} (postgres), seed ${SEED}, ${commandsRun} commands ` +
        `(≤ ${SHORT_MAX} per schedule, ≤ ${LONG_MAX} for one in ten; LEASEHOLD_SEED=${SEED} replays, LEASEHOLD_SCHEDULES=n runs more)`,
    );
  });

  it.skipIf(ON_POSTGRES)(`${MEMORY_RUNS} schedules on memoryStore`, { timeout: 120_000 + MEMORY_RUNS * 50 }, () => runSuite('memory', MEMORY_RUNS));

  it.skipIf(ON_POSTGRES)(`${JSON_RUNS} schedules on the JSON file store`, { timeout: 120_000 + JSON_RUNS * 500 }, () => runSuite('json', JSON_RUNS));

  it.runIf(ON_POSTGRES)(`${POSTGRES_RUNS} schedules on the PostgreSQL store`, { timeout: 120_000 + POSTGRES_RUNS * 500 }, () =>
    runSuite('postgres', POSTGRES_RUNS),
  );
});
