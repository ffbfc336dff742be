// The user view: a machine graph as someone who knows only the API reads it. Derived from
// the full graph (graph.ts), never drawn by hand: events become the commands that send them,
// timers and invoked work become what they mean ("lease expires", "compensation failed"),
// guards read in the API's words, internal steps fold into the state a user sees, and what a
// user cannot observe is left out — rejections (they change nothing), re-entries that re-arm
// timers after a restart, events no command sends. Parallel alternatives collapse: one edge
// per (source, target, command).
import { machineGraph, type MachineGraph, type State, type Transition } from './graph.js';
import type { AnyStateMachine } from 'xstate';

/** A transition running this action (even beside others) answers a call with a rejection. */
const REJECT = 'reject';

/** What a guard means to a user. */
export interface GuardWords {
  /** The condition as the edge shows it; null leaves it off (it changes nothing a user sees). */
  when?: string | null;
  /** What the `[else]` after it means; null or absent leaves it off. */
  otherwise?: string | null;
  /** The transition is this happening rather than its trigger (`graceExtended` → "grace extended"). */
  names?: string;
}

/** The API's vocabulary for one machine. Anything a table leaves out is internal and hidden. */
export interface Words {
  /** Event type → the command that sends it (`lease.claim` → `claim`). */
  commands: Record<string, string>;
  /** Delay name → what happens when it runs out (`leaseExpiry` → `lease expires`). */
  delays?: Record<string, string>;
  /** Invoked actor → what its outcome means. */
  outcomes?: Record<string, { done?: string; error?: string }>;
  guards?: Record<string, GuardWords>;
  /** State path → the path it is shown as (internal steps folded into a state users see). */
  fold?: Record<string, string>;
  /** Guard → who an owner call must come from; commands rejected without it are listed in the caption. */
  fences?: Record<string, string>;
}

/** Without words: every event is a command of its own name, timers and outcomes as named. */
export function plainWords(graph: MachineGraph): Words {
  const commands: Record<string, string> = {};
  for (const t of allTransitions(graph)) if (t.trigger.kind === 'event') commands[t.trigger.name] = t.trigger.name;
  return { commands };
}

function allTransitions(graph: MachineGraph): Transition[] {
  const states = [...graph.states.values()];
  return [...graph.edges, ...graph.everywhere, ...states.flatMap((s) => [...s.internal, ...s.rejections])];
}

/** The words for a transition's trigger, or null when it is internal. */
function commandOf(t: Transition, words: Words): string | null {
  const named = t.guard && !t.guard.includes(' ') ? words.guards?.[t.guard]?.names : undefined;
  if (named) return named;
  switch (t.trigger.kind) {
    case 'event':
      return words.commands[t.trigger.name] ?? null;
    case 'after':
      return words.delays ? (words.delays[t.trigger.name] ?? null) : `after ${t.trigger.name}`;
    case 'done':
    case 'error':
      return words.outcomes ? (words.outcomes[t.trigger.name]?.[t.trigger.kind] ?? null) : `${t.trigger.kind}: ${t.trigger.name}`;
    default:
      return null;
  }
}

/** A guard in the API's words: `else` as the negation of the guards before it; null when unsaid. */
function guardOf(t: Transition, words: Words): string | null {
  if (t.guard === null) return null;
  const table = words.guards;
  if (!table) return t.guard === 'else' ? null : t.guard;
  if (t.guard === 'else') {
    const parts = (t.elseOf ?? []).map((g) => table[g]?.otherwise).filter((w): w is string => typeof w === 'string');
    return parts.length > 0 ? parts.join(', ') : null;
  }
  const entry = table[t.guard];
  if (entry?.names) return null;
  return entry ? (entry.when ?? null) : t.guard;
}

/** Words in lines of at most `width` characters (a long word gets a line of its own). */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  for (const word of text.split(/\s+/)) {
    const last = lines.at(-1);
    if (last !== undefined && last.length + 1 + word.length <= width) lines[lines.length - 1] = `${last} ${word}`;
    else lines.push(word);
  }
  return lines;
}

/** Alternatives that differ only by guard become one edge: its guard says when any of them applies. */
function mergedGuard(guards: (string | null)[]): string | null {
  if (guards.some((g) => g === null)) return null;
  return [...new Set(guards)].join(' or ');
}

export function userView(full: MachineGraph, words: Words = plainWords(full)): MachineGraph {
  const pathToId = new Map([...full.states.values()].map((s) => [s.path, s.id]));
  /** The state a user sees for `id`: itself, or the state it is folded into. */
  const shown = (id: string): string => {
    const state = full.states.get(id)!;
    for (const [from, to] of Object.entries(words.fold ?? {})) {
      if (state.path === from || state.path.startsWith(`${from}.`)) return pathToId.get(to) ?? id;
    }
    return id;
  };

  // The state tree without the folded states; nothing listed inside a state but its note.
  const states = new Map<string, State>();
  const stateNotes = new Map<string, string[]>();
  const copy = (state: State): State => {
    const children = state.children.filter((c) => shown(c.id) === c.id).map(copy);
    const kept: State = { ...state, children, internal: [], rejections: [] };
    if (kept.initial !== null && shown(kept.initial) !== kept.initial) kept.initial = children[0]?.id ?? null;
    const folded = state.children.filter((c) => shown(c.id) !== c.id);
    if (folded.length > 0 && children.length === 0 && state.description) stateNotes.set(state.id, wrap(state.description, 44));
    states.set(kept.id, kept);
    return kept;
  };
  const root = copy(full.root);
  // One start marker is enough: the one inside the initial state, when it has one.
  const first = root.initial === null ? undefined : states.get(root.initial);
  if (first && first.initial !== null) root.initial = null;

  // Edges and targetless transitions that do something, rejections aside, in the user's words.
  const candidates = [
    ...full.edges,
    ...[...full.states.values()].flatMap((s) => s.internal.filter((t) => t.actions.length > 0)),
  ].filter(
    (t) =>
      t.rejects === null &&
      !t.actions.some((a) => a === REJECT || a.startsWith(`${REJECT}(`)) &&
      !(t.target === t.source && t.reenter && t.actions.length === 0),
  );
  const merged = new Map<string, { edge: Transition; guards: (string | null)[] }>();
  for (const t of candidates) {
    const command = commandOf(t, words);
    if (command === null) continue;
    const source = shown(t.source);
    const target = shown(t.target ?? t.source);
    // A step inside a folded state (compensation done → the next one) is that state's business.
    if (source === target && t.target !== null && t.trigger.kind !== 'event' && !words.guards?.[t.guard ?? '']?.names) continue;
    const key = `${source}\n${target}\n${command}`;
    const group = merged.get(key);
    if (group) {
      group.guards.push(guardOf(t, words));
      if (t.description && !group.edge.description) group.edge.description = t.description;
      continue;
    }
    const edge: Transition = { ...t, source, target, command, actions: [], reenter: false, guard: null };
    delete edge.elseOf;
    merged.set(key, { edge, guards: [guardOf(t, words)] });
  }
  let edges = [...merged.values()].map(({ edge, guards }) => ({ ...edge, guard: mergedGuard(guards) }));

  // A command the root sends from every live state to one place (quarantine) is one line of
  // the caption rather than an arrow from each state.
  const live = root.children.filter((s) => !s.terminal).map((s) => s.id);
  const fromEverywhere: string[] = [];
  for (const command of new Set(edges.filter((t) => t.definedOn === full.id).map((t) => t.command!))) {
    const list = edges.filter((t) => t.command === command);
    const target = list[0]!.target!;
    const everyLive = live.every((id) => list.some((t) => t.source === id));
    if (!everyLive || list.some((t) => t.target !== target || t.definedOn !== full.id || t.guard !== null)) continue;
    fromEverywhere.push(`${command}: from every state that is not terminal to ${states.get(target)!.key}`);
    edges = edges.filter((t) => t.command !== command);
  }

  const everywhere = full.everywhere.flatMap((t) => {
    const command = commandOf(t, words);
    return command === null ? [] : [{ ...t, command, actions: [], guard: null }];
  });

  return { id: full.id, root, edges, everywhere, states, detail: 'user', notes: [...fromEverywhere, ...fenceNotes(full, words)], stateNotes, shownAs: new Map(Object.entries(words.fold ?? {})) };
}

/** `heartbeat, extend, …: only the holder, with the current epoch`, from the rejections' guards. */
function fenceNotes(full: MachineGraph, words: Words): string[] {
  const fences = words.fences ?? {};
  const needs = new Map<string, Set<string>>();
  for (const t of allTransitions(full)) {
    if (t.rejects === null || !t.guard?.startsWith('not ')) continue;
    const fence = fences[t.guard.slice(4)];
    const command = words.commands[t.trigger.name];
    if (!fence || !command) continue;
    needs.set(command, (needs.get(command) ?? new Set()).add(fence));
  }
  const byFences = new Map<string, string[]>();
  for (const [command, set] of needs) {
    const key = [...set].map((fence, i) => (i === 0 ? `the ${fence}` : `with the ${fence}`)).join(', ');
    byFences.set(key, [...(byFences.get(key) ?? []), command]);
  }
  return [...byFences].map(([fence, commands]) => `${commands.join(', ')}: only ${fence}`);
}

/** The user view of a machine: `machineGraph(machine)` read with `words`. */
export function userGraph(machine: AnyStateMachine, words?: Words): MachineGraph {
  return userView(machineGraph(machine), words);
}
