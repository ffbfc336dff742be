// Coverage measured, not claimed: every state node and every transition (each `on`, `after`,
// `always` and invoke edge, guarded branches and rejections each counted on their own) is
// read from `machine.root`, and what ran is read from XState's inspection of the real actors.
import type { AnyStateMachine, AnyStateNode, InspectionEvent } from 'xstate';

interface TransitionLike {
  source: AnyStateNode;
  eventType: string;
}

const nodePath = (node: AnyStateNode) => node.path.join('.') || '(root)';

/** A transition's stable name: source, event and its position among that event's branches. */
export function edgeKey(transition: TransitionLike): string {
  const source = transition.source;
  const branches: readonly unknown[] = transition.eventType === '' ? (source.always ?? []) : (source.transitions.get(transition.eventType) ?? []);
  const index = branches.indexOf(transition);
  return `${nodePath(source)} | ${transition.eventType || 'always'} #${index}`;
}

function walk(node: AnyStateNode, visit: (node: AnyStateNode) => void) {
  visit(node);
  for (const child of Object.values(node.states)) walk(child, visit);
}

/** Every state node (root excluded) and every transition of a machine. */
export function machineGraph(machine: AnyStateMachine) {
  const states = new Set<string>();
  const edges = new Set<string>();
  walk(machine.root, (node) => {
    if (node !== machine.root) states.add(nodePath(node));
    for (const branches of node.transitions.values()) for (const t of branches) edges.add(edgeKey(t));
    for (const t of node.always ?? []) edges.add(edgeKey(t));
  });
  return { states, edges };
}

/** State paths of a snapshot value, with every ancestor: `{ stale: 'grace' }` → stale, stale.grace. */
export function activePaths(value: unknown, prefix = ''): string[] {
  if (typeof value === 'string') return [`${prefix}${value}`];
  return Object.entries(value as Record<string, unknown>).flatMap(([key, child]) => [
    `${prefix}${key}`,
    ...activePaths(child, `${prefix}${key}.`),
  ]);
}

/** Collects the states and transitions one machine's actors went through. */
export function coverageOf(machine: AnyStateMachine) {
  const graph = machineGraph(machine);
  const states = new Set<string>();
  const edges = new Set<string>();
  const owns = (node: AnyStateNode) => node.machine.id === machine.id;

  return {
    graph,
    states,
    edges,
    /** An XState inspection observer; pass it as `inspect` to the actors under test. */
    observe(event: InspectionEvent) {
      if (event.type !== '@xstate.microstep' && event.type !== '@xstate.snapshot') return;
      const snapshot = event.snapshot as { value?: unknown; machine?: AnyStateMachine };
      if (snapshot.machine?.id !== machine.id || snapshot.value === undefined) return;
      for (const path of activePaths(snapshot.value)) states.add(path);
      if (event.type === '@xstate.microstep') {
        for (const t of event._transitions as unknown as TransitionLike[]) if (owns(t.source)) edges.add(edgeKey(t));
      }
    },
    missing() {
      return {
        states: [...graph.states].filter((s) => !states.has(s)),
        edges: [...graph.edges].filter((e) => !edges.has(e)),
      };
    },
    line(name: string) {
      const s = [...graph.states].filter((x) => states.has(x)).length;
      const e = [...graph.edges].filter((x) => edges.has(x)).length;
      return `${name}: states covered ${s}/${graph.states.size}, transitions covered ${e}/${graph.edges.size}`;
    },
  };
}
