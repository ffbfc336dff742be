// Reads any XState machine definition into a drawing-neutral graph: the state tree from
// `machine.root` and every transition with a readable label (event or delay, guard,
// actions). Owns the rules that decide where a transition is drawn and what is folded;
// the Mermaid, DOT and Stately writers only format what this module decides.
import { and, not, or, stateIn, type AnyStateMachine, type AnyStateNode, type AnyTransitionDefinition } from 'xstate';

/**
 * `user` is the view of someone who knows only the API (see user.ts: one edge per command,
 * internal events and rejections hidden, guards in the API's words); `compact` (the
 * renderers' default for a machine graph) folds rejections — targetless transitions whose
 * only action is the reject action — into one "rejects" line per state; `full` draws each
 * of them as a self-loop with its guard and reason.
 */
export type Detail = 'user' | 'compact' | 'full';

export type TriggerKind = 'event' | 'after' | 'always' | 'done' | 'error' | 'snapshot' | 'state-done';

export interface Transition {
  /** The state the edge leaves, after placement (see `machineGraph`). */
  source: string;
  /** The state whose config defines the transition. */
  definedOn: string;
  /** Target state id, or null for a targetless (internal) transition. */
  target: string | null;
  trigger: { kind: TriggerKind; name: string };
  /** The guard as text (`not isOwner`, `a and b`), or `else` for the fallback of a guarded list. */
  guard: string | null;
  actions: string[];
  reenter: boolean;
  /** Set when the transition only rejects: the reason (or code) it rejects with. */
  rejects: string | null;
  description: string | null;
  /** For an `else` fallback: the guards of the alternatives before it that do something. */
  elseOf?: string[];
  /** In the user view: the command or happening the edge stands for (`claim`, `lease expires`). */
  command?: string;
}

export interface State {
  id: string;
  key: string;
  /** Dotted path below the root (`stale.grace`); '' for the root. */
  path: string;
  parent: string | null;
  type: AnyStateNode['type'];
  /** A final state, or one tagged `terminal` (terminal but still accepting annotations). */
  terminal: boolean;
  /** Id of the initial child of a compound state. */
  initial: string | null;
  description: string | null;
  tags: string[];
  invokes: string[];
  children: State[];
  /** Targetless transitions that do something without leaving the state (UML internal transitions). */
  internal: Transition[];
  /** Rejection-only transitions placed on this state. */
  rejections: Transition[];
}

export interface MachineGraph {
  id: string;
  root: State;
  /** Transitions with a target: the edges. */
  edges: Transition[];
  /** Targetless transitions the root defines for every top-level state, listed once. */
  everywhere: Transition[];
  states: Map<string, State>;
  /** Set on the user view (user.ts): the renderers then draw it at `user` detail. */
  detail?: 'user';
  /** Lines for the caption (the user view says who may make owner calls). */
  notes?: string[];
  /** Lines shown inside a state in the user view (what a folded-in step does). */
  stateNotes?: Map<string, string[]>;
  /** In the user view: the path each folded state is shown as (`stale.deciding` → `stale.grace`). */
  shownAs?: Map<string, string>;
}

export interface GraphOptions {
  /** The action that marks a transition as a rejection (default `reject`). */
  rejectAction?: string;
}

export const TERMINAL_TAG = 'terminal';

// Higher-order guards are functions carrying `check` and `guards`; compare `check` with
// the combinators' own to tell them apart without relying on function names.
type Combinator = { check: unknown; guards?: unknown[]; stateValue?: unknown };
const NOT = (not('x') as unknown as Combinator).check;
const AND = (and(['x']) as unknown as Combinator).check;
const OR = (or(['x']) as unknown as Combinator).check;
const STATE_IN = (stateIn('x') as unknown as Combinator).check;

/** `isOwner`, `not isOwner`, `a and (b or c)`, `in #task.leased`. */
export function guardText(guard: unknown): string | null {
  if (guard === undefined || guard === null) return null;
  if (typeof guard === 'string') return guard;
  if (typeof guard === 'function') {
    const combinator = guard as unknown as Combinator;
    const inner = (combinator.guards ?? []).map((g) => {
      const text = guardText(g) ?? '?';
      return /\s/.test(text) && !text.startsWith('not ') ? `(${text})` : text;
    });
    if (combinator.check === NOT) return `not ${inner[0]}`;
    if (combinator.check === AND) return inner.join(' and ');
    if (combinator.check === OR) return inner.join(' or ');
    if (combinator.check === STATE_IN) return `in ${JSON.stringify(combinator.stateValue)}`;
    return guard.name ? `${guard.name}()` : 'inline guard';
  }
  if (typeof guard === 'object' && 'type' in guard) return String((guard as { type: unknown }).type);
  return String(guard);
}

export function actionType(action: unknown): string {
  if (typeof action === 'string') return action;
  if (typeof action === 'function') {
    const type = (action as { type?: unknown }).type;
    return typeof type === 'string' ? type : action.name || 'inline action';
  }
  if (action && typeof action === 'object' && 'type' in action) return String((action as { type: unknown }).type);
  return String(action);
}

/** Static params of a parameterised action (`{ type, params: {...} }`), if they are plain data. */
export function staticParams(action: unknown): Record<string, unknown> | undefined {
  if (!action || typeof action !== 'object' || !('params' in action)) return undefined;
  const params = (action as { params: unknown }).params;
  return params && typeof params === 'object' && !Array.isArray(params) ? (params as Record<string, unknown>) : undefined;
}

/** What an action reads as on an edge: its name, with a reject reason in parentheses. */
function actionText(action: unknown, rejectAction: string): string {
  const type = actionType(action);
  if (type !== rejectAction) return type;
  const reason = rejectionReason(action);
  return reason ? `${type}(${reason})` : type;
}

function rejectionReason(action: unknown): string | null {
  const params = staticParams(action);
  const reason = params?.reason ?? params?.code;
  return typeof reason === 'string' ? reason : null;
}

/** Children in document order (drawing order follows it, then each node's transitions in config order). */
function childrenOf(node: AnyStateNode): AnyStateNode[] {
  return Object.values(node.states) as AnyStateNode[];
}

function descendants(node: AnyStateNode): AnyStateNode[] {
  return childrenOf(node).flatMap((child) => [child, ...descendants(child)]);
}

/** Whether `node` or a descendant handles `event` itself (and so overrides an ancestor). */
function handles(node: AnyStateNode, event: string): boolean {
  return node.transitions.has(event) || descendants(node).some((d) => d.transitions.has(event));
}

/**
 * Where an ancestor's transition for `event` applies: the highest states below `from`
 * that neither handle the event themselves nor contain a state that does. A state that
 * handles it overrides it for its whole subtree.
 */
function placements(from: AnyStateNode, event: string): AnyStateNode[] {
  return childrenOf(from).flatMap((child) => {
    if (child.transitions.has(event)) return [];
    return handles(child, event) ? placements(child, event) : [child];
  });
}

function triggerOf(node: AnyStateNode, eventType: string): Transition['trigger'] {
  const delayed = node.after.find((t) => t.eventType === eventType);
  if (delayed) {
    const delay = (delayed as { delay: string | number }).delay;
    return { kind: 'after', name: typeof delay === 'number' ? `${delay}ms` : delay };
  }
  for (const invoke of node.invoke) {
    const src = typeof invoke.src === 'string' ? invoke.src : invoke.id;
    if (eventType === `xstate.done.actor.${invoke.id}`) return { kind: 'done', name: src };
    if (eventType === `xstate.error.actor.${invoke.id}`) return { kind: 'error', name: src };
    if (eventType === `xstate.snapshot.${invoke.id}`) return { kind: 'snapshot', name: src };
  }
  if (eventType === `xstate.done.state.${node.id}`) return { kind: 'state-done', name: node.key };
  return { kind: 'event', name: eventType };
}

/** `lease.claim`, `after leaseExpiry`, `always`, `done: compensate`, `error: compensate`. */
function triggerText(trigger: Transition['trigger']): string {
  switch (trigger.kind) {
    case 'event':
      return trigger.name;
    case 'after':
      return `after ${trigger.name}`;
    case 'always':
      return 'always';
    case 'done':
      return `done: ${trigger.name}`;
    case 'error':
      return `error: ${trigger.name}`;
    case 'snapshot':
      return `snapshot: ${trigger.name}`;
    case 'state-done':
      return `done: ${trigger.name}`;
  }
}

/** `event [guard]`, and in full detail ` / action, action`. */
export function transitionLabel(t: Transition, withActions: boolean): string {
  const guard = t.guard ? ` [${t.guard}]` : '';
  const actions = withActions && t.actions.length > 0 ? ` / ${t.actions.join(', ')}` : '';
  return `${t.command ?? triggerText(t.trigger)}${guard}${actions}`;
}

function pathOf(node: AnyStateNode): string {
  return node.path.join('.');
}

export function machineGraph(machine: AnyStateMachine, options: GraphOptions = {}): MachineGraph {
  const rejectAction = options.rejectAction ?? 'reject';
  const root = machine.root;
  const states = new Map<string, State>();
  const edges: Transition[] = [];
  const everywhere: Transition[] = [];

  const build = (node: AnyStateNode): State => {
    const initialTarget = node.type === 'compound' ? node.initial.target[0] : undefined;
    const state: State = {
      id: node.id,
      key: node.key,
      path: pathOf(node),
      parent: node.parent ? node.parent.id : null,
      type: node.type,
      terminal: node.type === 'final' || node.tags.includes(TERMINAL_TAG),
      initial: initialTarget ? initialTarget.id : null,
      description: node.description ?? null,
      tags: [...node.tags],
      invokes: node.invoke.map((i) => (typeof i.src === 'string' ? i.src : i.id)),
      children: [],
      internal: [],
      rejections: [],
    };
    states.set(state.id, state);
    state.children = childrenOf(node).map(build);
    return state;
  };
  const rootState = build(root);
  const topLevel = childrenOf(root);

  const visit = (node: AnyStateNode) => {
    const lists: [string, readonly AnyTransitionDefinition[]][] = [...node.transitions];
    if (node.always) lists.push(['', node.always]);
    for (const [eventType, definitions] of lists) {
      const trigger: Transition['trigger'] = eventType === '' ? { kind: 'always', name: 'always' } : triggerOf(node, eventType);
      // A parent's event transitions apply wherever no descendant handles the event; the
      // root is not drawn, so its transitions always go down to the states they apply to.
      const sources =
        trigger.kind === 'event' && (node === root || childrenOf(node).some((c) => handles(c, eventType)))
          ? placements(node, eventType)
          : [node];
      let guardedBefore = false;
      const guardsBefore: string[] = [];
      for (const definition of definitions) {
        const guard = guardText(definition.guard);
        const targets = definition.target ?? [];
        const actions = definition.actions.map((a) => actionText(a, rejectAction));
        const onlyRejects =
          targets.length === 0 && definition.actions.length > 0 && definition.actions.every((a) => actionType(a) === rejectAction);
        const base = {
          definedOn: node.id,
          trigger,
          guard: guard ?? (guardedBefore ? 'else' : null),
          actions,
          reenter: definition.reenter,
          rejects: onlyRejects ? definition.actions.map(rejectionReason).filter((r) => r !== null).join(', ') || rejectAction : null,
          description: definition.description ?? null,
        };
        // `else` is the fallback of the guarded transitions that do something; the rejections
        // before it are summarised (or drawn) with their own guards.
        if (guard === null && guardedBefore) Object.assign(base, { elseOf: [...guardsBefore] });
        guardedBefore ||= guard !== null && !onlyRejects;
        if (guard !== null && !onlyRejects) guardsBefore.push(guard);
        if (targets.length === 0) {
          const internal = !onlyRejects;
          // Inert entries (no target, no actions) still say something: the event is accepted.
          if (node === root && internal && sources.length === topLevel.length) {
            everywhere.push({ ...base, source: root.id, target: null });
            continue;
          }
          for (const source of sources) {
            const t = { ...base, source: source.id, target: null };
            (internal ? states.get(source.id)!.internal : states.get(source.id)!.rejections).push(t);
          }
          continue;
        }
        for (const source of sources) for (const target of targets) edges.push({ ...base, source: source.id, target: target.id });
      }
    }
    for (const child of childrenOf(node)) visit(child);
  };
  visit(root);

  return { id: root.id, root: rootState, edges, everywhere, states };
}

/** Visits every state, parents before children, in document order. */
export function walk(state: State, visit: (state: State, depth: number) => void, depth = 0): void {
  visit(state, depth);
  for (const child of state.children) walk(child, visit, depth + 1);
}

/** The state and its ancestors, innermost first. */
function ancestry(graph: MachineGraph, id: string): State[] {
  const chain: State[] = [];
  for (let state = graph.states.get(id); state; state = state.parent === null ? undefined : graph.states.get(state.parent)) chain.push(state);
  return chain;
}

/** The innermost state containing both (for writers that must declare an edge inside it). */
export function commonAncestor(graph: MachineGraph, a: string, b: string): State {
  const other = new Set(ancestry(graph, b));
  return ancestry(graph, a).find((s) => other.has(s)) ?? graph.root;
}

export function isAncestor(ancestor: State, state: State): boolean {
  return ancestor.path === '' || state.path === ancestor.path || state.path.startsWith(`${ancestor.path}.`);
}

/** The rejection reasons of a state, deduplicated in first-seen order: `held, not_owner`. */
function rejectionSummary(state: State): string[] {
  return [...new Set(state.rejections.map((t) => t.rejects!))];
}

/** An internal transition as a line inside its state: `event [guard] / actions`. */
export function internalLabel(t: Transition): string {
  return t.actions.length > 0 ? transitionLabel(t, true) : `${transitionLabel(t, false)} (no change)`;
}

/** A self re-entry without actions (e.g. re-arming timers after a restart). */
export function isBareReentry(t: Transition): boolean {
  return t.target === t.source && t.reenter && t.actions.length === 0;
}

/**
 * The edges drawn at a level of detail. `user` leaves out self-loops (listed inside their
 * state: "stays on: heartbeat, extend"); `compact` leaves out bare re-entries (listed inside
 * their state instead) and rejections; `full` draws every transition, rejections as
 * self-loops (those of a compound state, which has no box to loop on, are listed in it).
 */
export function drawnEdges(graph: MachineGraph, detail: Detail): Transition[] {
  if (detail === 'user') return graph.edges.filter((t) => t.source !== t.target);
  if (detail === 'compact') return graph.edges.filter((t) => !isBareReentry(t));
  return [...graph.edges, ...[...graph.states.values()].filter((s) => s.children.length === 0).flatMap((s) => s.rejections)];
}

/**
 * The lines shown inside a state: in user detail its note and the commands it stays on;
 * otherwise its internal transitions; in compact detail also its
 * bare re-entries and one line with the reasons it rejects calls for.
 */
export function compartment(graph: MachineGraph, state: State, detail: Detail): string[] {
  if (detail === 'user') {
    const stays = graph.edges.filter((t) => t.source === state.id && t.target === state.id).map((t) => transitionLabel(t, false));
    return [...(graph.stateNotes?.get(state.id) ?? []), ...(stays.length > 0 ? [`stays on: ${stays.join(', ')}`] : [])];
  }
  const lines = state.internal.map(internalLabel);
  if (detail === 'full') {
    if (state.children.length > 0) lines.push(...state.rejections.map((t) => transitionLabel(t, true)));
    return lines;
  }
  for (const t of graph.edges) if (t.source === state.id && isBareReentry(t)) lines.push(`${transitionLabel(t, false)} (re-enters)`);
  const reasons = rejectionSummary(state);
  if (reasons.length > 0) lines.push(`rejects: ${reasons.join(', ')}`);
  return lines;
}
