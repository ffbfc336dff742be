// The test plan, generated from machines/task.machine.ts with @xstate/graph: which events
// each state offers (right owner and epoch, wrong owner, old epoch, durations, progress,
// timers, compensation outcomes) and which paths to run so that every transition is taken.
// Time in the model is the latest instant the task's own record has seen; every command
// happens 1 ms later, well before the next deadline, so the runtime can replay it exactly.
import { getShortestPaths, type StatePath } from '@xstate/graph';
import { fromPromise, initialTransition, transition, type AnyStateNode, type SnapshotFrom } from 'xstate';
import { nextCompensation, taskMachine } from '../../machines/task.machine.js';
import type { CompensationInput, CompensationOutcome, GraceOutcome, TaskContext, TaskEvent, TaskInput, TaskLimits } from '../../machines/task.types.js';
import { edgeKey } from './coverage.js';

export const MODEL_T0 = Date.UTC(2026, 0, 1);
export const TASK_ID = 'm';
/** Small bounds keep the state space finite and every counter's limit reachable. */
export const MODEL_LIMITS: TaskLimits = {
  leaseMs: 100,
  graceMs: 50,
  maxAttempts: 2,
  maxStale: 2,
  maxRenewals: 2,
  retryBackoffMs: 20,
  maxRetryBackoffMs: 30,
  compensationAttempts: 2,
  compensationBackoffMs: 10,
};
const MAX_EPOCH = 2;
const MAX_HEARTBEATS = 3;
const MAX_COMPENSATIONS = 1;
const MAX_STALE_SEEN = 2;
/** The compensation action with a handler; `ghost` has none. */
export const HANDLED = 'undo';
export const UNHANDLED = 'ghost';

/**
 * Pure traversal never runs timers or actors: delays are inert, invoked work never settles.
 * Two variants: a supervisor whose grace ends plainly, and one with an extension probe that
 * is consulted when grace ends (the runtime replays that one with a probe the test holds).
 */
function modelOf(decides: boolean) {
  return taskMachine.provide({
    delays: { leaseExpiry: 0, graceExpiry: 0, retryBackoff: 0, compensationBackoff: 0 },
    actors: {
      compensate: fromPromise<CompensationOutcome, CompensationInput>(() => new Promise(() => {})),
      decideGrace: fromPromise<GraceOutcome, { taskId: string }>(() => new Promise(() => {})),
    },
    guards: { consultsPolicy: () => decides },
  });
}
export const MODELS = { plain: modelOf(false), probed: modelOf(true) };
export type ModelVariant = keyof typeof MODELS;
/** The plain variant: the machine as every supervisor without probes runs it. */
export const modelMachine = MODELS.plain;

export type ModelMachine = typeof modelMachine;
export type ModelSnapshot = SnapshotFrom<ModelMachine>;
/**
 * `byPolicy` marks durations the runtime's lease policy supplies: the replay leaves them out
 * of the public call and the supervisor must arrive at the same values.
 */
export type ModelEvent = (TaskEvent & { byPolicy?: true }) | { type: `xstate.${string}`; output?: unknown; error?: unknown };
export type ModelPath = StatePath<ModelSnapshot, ModelEvent>;

export const modelInput: TaskInput = {
  id: TASK_ID,
  spec: null,
  priority: 'medium',
  labels: [],
  limits: MODEL_LIMITS,
  compensations: [],
  createdAt: MODEL_T0,
};

const path = (value: unknown): string =>
  typeof value === 'string' ? value : Object.entries(value as object).map(([k, v]) => `${k}.${path(v)}`)[0]!;

/** The latest instant the task has seen: its last audit entry, or a deadline that has passed. */
export function modelNow(snapshot: ModelSnapshot): number {
  const c = snapshot.context;
  const state = path(snapshot.value);
  return Math.max(
    c.audit.at(-1)!.at,
    state === 'planned.ready' ? (c.notBefore ?? 0) : 0,
    state === 'failed.running' ? (c.compensationRetryAt ?? 0) : 0,
    state === 'stale.deciding' ? (c.graceEndsAt ?? 0) : 0,
  );
}

/** The deadline a delayed event fires at, read from the state it leaves. */
export function deadlineOf(context: TaskContext, eventType: string): number {
  if (eventType.includes('leaseExpiry')) return context.lease!.expiresAt;
  if (eventType.includes('graceExpiry')) return context.graceEndsAt!;
  if (eventType.includes('retryBackoff')) return context.notBefore!;
  if (eventType.includes('compensationBackoff')) return context.compensationRetryAt!;
  throw new Error(`not a delayed event: ${eventType}`);
}

/** The delayed and invoke events a state node can take, by their XState names. */
const eventsOfNode = (snapshot: ModelSnapshot, prefix: string) =>
  (snapshot._nodes as AnyStateNode[]).flatMap((node) => [...node.transitions.keys()].filter((type) => type.startsWith(prefix)));

/** Every event worth trying in a state: accepted ones while counters are in bounds, rejected ones always. */
export function modelEvents(snapshot: ModelSnapshot): ModelEvent[] {
  const c = snapshot.context;
  const state = path(snapshot.value);
  const at = modelNow(snapshot) + 1;
  const holder = c.lease?.owner ?? 'a';
  const stranger = holder === 'a' ? 'b' : 'a';
  const epoch = Math.max(1, c.epoch);
  const oldEpoch = epoch > 1 ? epoch - 1 : epoch + 1;
  const events: ModelEvent[] = [];

  if (state === 'failed.running') {
    const entry = nextCompensation(c)!;
    const error = (missingHandler: boolean) => ({
      at: missingHandler ? modelNow(snapshot) : at,
      message: missingHandler ? `no compensator registered for "${entry.action}"` : 'boom',
      missingHandler,
    });
    const [done] = eventsOfNode(snapshot, 'xstate.done.actor.');
    const [failed] = eventsOfNode(snapshot, 'xstate.error.actor.');
    // A missing handler fails at once in the runtime: nothing else can happen first.
    if (entry.action === UNHANDLED) return [{ type: failed as `xstate.${string}`, error: error(true) }];
    events.push({ type: done as `xstate.${string}`, output: { at } }, { type: failed as `xstate.${string}`, error: error(false) });
  }
  if (state === 'stale.deciding') {
    const [decided] = eventsOfNode(snapshot, 'xstate.done.actor.');
    const [failed] = eventsOfNode(snapshot, 'xstate.error.actor.');
    for (const extension of [{ extendMs: 30, reason: 'probe' }, null]) events.push({ type: decided as `xstate.${string}`, output: { at, extension } });
    // A decision fails when a probe fails and nothing is granted; replayed as a probe that rejects.
    events.push({ type: failed as `xstate.${string}`, error: { at, message: 'probe failed', missingHandler: false } });
  }
  for (const type of eventsOfNode(snapshot, 'xstate.after.')) events.push({ type: type as `xstate.${string}` });

  const claimable = state === 'planned.ready' || state === 'stale.expired';
  if (!claimable || c.epoch < MAX_EPOCH) {
    events.push({ type: 'lease.claim', owner: c.lease ? stranger : holder, leaseMs: MODEL_LIMITS.leaseMs, graceMs: MODEL_LIMITS.graceMs, byPolicy: true, at } as ModelEvent);
  }
  const fenced = (owner: string, e: number) => ({ owner, epoch: e, at });
  for (const [owner, e, right] of [
    [holder, epoch, true],
    [stranger, epoch, false],
    [holder, oldEpoch, false],
  ] as const) {
    const who = fenced(owner, e);
    const renewals = c.lease?.renewals ?? 0;
    if (!right || (renewals < MAX_HEARTBEATS && c.staleCount <= MAX_STALE_SEEN)) {
      // Without its own leaseMs, a renewal takes the fixed policy's: the lease's own durations.
      const renewal = c.lease ? { leaseMs: c.lease.leaseMs, graceMs: c.lease.graceMs, byPolicy: true as const } : {};
      events.push({ type: 'lease.heartbeat', ...who, ...renewal, progress: Math.min(100, c.progress + 10), message: `at ${c.progress + 10}%` });
      events.push({ type: 'lease.heartbeat', ...who, ...renewal });
      events.push({ type: 'lease.heartbeat', ...who, leaseMs: 1 });
    }
    events.push({ type: 'lease.extend', ...who, windowMs: 1_000 });
    events.push({ type: 'lease.extend', ...who, windowMs: 1 });
    events.push({ type: 'lease.release', ...who, reason: 'handing back' });
    events.push({ type: 'task.complete', ...who, result: { ok: true } });
    events.push({ type: 'task.fail', ...who, error: 'broke', retryable: true });
    events.push({ type: 'task.fail', ...who, error: 'broke for good' });
    if (!right || c.compensations.length < MAX_COMPENSATIONS) {
      events.push({ type: 'compensation.add', ...who, action: HANDLED, args: { n: c.compensations.length } });
      events.push({ type: 'compensation.add', ...who, action: UNHANDLED });
    }
  }
  // By "admin": what the HTTP API records for the admin token's quarantine, so the paths replayed
  // over HTTP store the same task as in-process.
  events.push({ type: 'task.quarantine', by: 'admin', reason: 'looks poisoned', at });
  events.push({ type: 'task.annotate', metadata: { note: 'seen' }, at });
  return events;
}

/**
 * Projects away timestamps and metadata so the traversal sees finitely many states; every
 * terminal task is the same state to the model (they all accept only annotations).
 */
export function serializeState(snapshot: ModelSnapshot): string {
  const c = snapshot.context;
  if (snapshot.hasTag('terminal')) return JSON.stringify(snapshot.value);
  return JSON.stringify([
    snapshot.value,
    c.epoch,
    c.attempts,
    c.staleCount,
    c.progress > 0,
    c.lease && [c.lease.owner, c.lease.renewals],
    c.compensations.map((e) => [e.action, e.status, e.attempts]),
  ]);
}

// The model's events include XState's own delayed and invoke events, which the machine's
// event type does not list.
const traversal = { input: modelInput, events: modelEvents as (s: ModelSnapshot) => TaskEvent[], serializeState, limit: 100_000 };

/** Drops the `xstate.init` step @xstate/graph puts at the start of every path. */
export const withoutInit = <P extends { steps: { event: { type: string } }[] }>(path: P): P => ({
  ...path,
  steps: path.steps.filter((step) => step.event.type !== 'xstate.init'),
});

/** The transitions one event takes from a snapshot (guards evaluated), by edge key. */
export function edgesTaken(machine: ModelMachine, snapshot: ModelSnapshot, event: ModelEvent): string[] {
  return machine.getTransitionData(snapshot, event as TaskEvent).map((t) => edgeKey(t));
}

/** An event without its timestamps: what it does, not when. */
const signature = (event: ModelEvent) => JSON.stringify(event, (key, value) => (key === 'at' ? undefined : value));

/**
 * Re-derives a path's events and states from the initial state. The traversal keeps one
 * representative snapshot per projected state, so its steps can carry times (and metadata)
 * of a sibling path; re-deriving gives every step the exact times its own history implies.
 */
function concretize(machine: ModelMachine, path: ModelPath): ModelPath {
  let [state] = initialTransition(machine, modelInput);
  const steps = path.steps.map(({ event: wanted }) => {
    const event = modelEvents(state).find((e) => signature(e) === signature(wanted));
    if (!event) throw new Error(`model path cannot be re-derived at ${signature(wanted)}`);
    [state] = transition(machine, state, event as TaskEvent);
    return { event, state };
  });
  return withAutomaticEnd(machine, { state, steps, weight: path.weight });
}

/**
 * A state whose only event happens by itself in the runtime (a compensation with no handler
 * fails the moment it starts) cannot end a path: the path takes that step too.
 */
function withAutomaticEnd(machine: ModelMachine, path: ModelPath): ModelPath {
  const [only, ...more] = modelEvents(path.state);
  if (!only || more.length > 0 || !only.type.startsWith('xstate.error.actor.')) return path;
  const [state] = transition(machine, path.state, only as TaskEvent);
  return { state, steps: [...path.steps, { event: only, state }], weight: path.weight + 1 };
}

/**
 * Shortest paths to every projected state, then each of those extended by one event for
 * every transition the shortest paths did not already take, so every branch (rejections
 * included) is exercised at least once.
 */
export function generatePaths(variant: ModelVariant): ModelPath[] {
  const machine = MODELS[variant];
  const shortest = (getShortestPaths(machine, traversal) as ModelPath[]).map((p) => concretize(machine, withoutInit(p)));
  const taken = new Set(shortest.flatMap((p) => edgesOfPath(variant, p)));
  const extended: ModelPath[] = [];
  for (const p of shortest) {
    for (const event of modelEvents(p.state)) {
      const fresh = edgesTaken(machine, p.state, event).filter((edge) => !taken.has(edge));
      if (fresh.length === 0) continue;
      for (const edge of fresh) taken.add(edge);
      const [next] = transition(machine, p.state, event as TaskEvent);
      extended.push(withAutomaticEnd(machine, { state: next, steps: [...p.steps, { event, state: next }], weight: p.weight + 1 }));
    }
  }
  const paths = [...shortest.filter((p) => p.steps.length > 0), ...extended];
  // With a probe, only paths through a grace decision differ from the plain variant's.
  return variant === 'plain' ? paths : paths.filter((p) => p.steps.some((s) => s.state.matches({ stale: 'deciding' })));
}

/** Every transition a path takes, by edge key, from the initial state. */
export function edgesOfPath(variant: ModelVariant, path: ModelPath): string[] {
  const machine = MODELS[variant];
  let [before] = initialTransition(machine, modelInput);
  return path.steps.flatMap((step) => {
    const edges = edgesTaken(machine, before, step.event);
    before = step.state;
    return edges;
  });
}

/**
 * A deterministic sample of `paths` (their indexes) that still takes every transition they
 * take: in order, each path that takes one no earlier pick took, and every `stride`-th path.
 */
export function coveringSample(paths: readonly { variant: ModelVariant; path: ModelPath }[], stride: number): Set<number> {
  const taken = new Set<string>();
  const picked = new Set<number>();
  paths.forEach(({ variant, path }, i) => {
    const fresh = edgesOfPath(variant, path).filter((edge) => !taken.has(edge));
    if (fresh.length === 0 && i % stride !== 0) return;
    picked.add(i);
    for (const edge of fresh) taken.add(edge);
  });
  return picked;
}
