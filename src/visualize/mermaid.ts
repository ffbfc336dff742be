// Mermaid `stateDiagram-v2` text from a machine graph (see graph.ts for what is drawn and
// folded). Compound states become nested composite blocks; terminal states are marked
// final (`--> [*]`, bold border); with an occupancy map, states show their live task counts.
import {
  commonAncestor,
  compartment,
  drawnEdges,
  internalLabel,
  transitionLabel,
  type Detail,
  type MachineGraph,
  type State,
  type Transition,
} from './graph.js';
import { occupancyText, occupantsOf, shownOccupancy, type Occupancy } from './live.js';
import { userView } from './user.js';

export interface MermaidOptions {
  detail?: Detail;
  /** Live view: task ids per state path. */
  occupancy?: Occupancy;
  /** Ids listed per state before only the count is shown (default 5). */
  maxIds?: number;
  /** Extra text for the title (the live view says where and when its counts come from). */
  caption?: string;
}

const idOf = (state: State) => state.id.replace(/[^A-Za-z0-9_]/g, '_');

/** Mermaid treats `;` and `#` specially and breaks on newlines; quotes end a state label. */
export function mermaidText(text: string): string {
  const entities: Record<string, string> = { '#': '#35;', ';': '#59;', '"': '#quot;' };
  return text.replace(/\s*\n\s*/g, ' ').replace(/[#;"]/g, (c) => entities[c]!);
}

export function toMermaid(machineGraph: MachineGraph, options: MermaidOptions = {}): string {
  const detail = options.detail ?? machineGraph.detail ?? 'compact';
  const graph = detail === 'user' && machineGraph.detail !== 'user' ? userView(machineGraph) : machineGraph;
  const live = shownOccupancy(graph, options.occupancy);
  const out: string[] = [];
  const everywhere = graph.everywhere.map((t) => (detail === 'user' ? transitionLabel(t, false) : internalLabel(t)));
  const title = [everywhere.length > 0 ? `${graph.id} · every state: ${everywhere.join('; ')}` : graph.id, ...(graph.notes ?? [])].join(' · ');
  out.push('---', `title: ${JSON.stringify(options.caption ? `${title} · ${options.caption}` : title)}`, '---', 'stateDiagram-v2');
  out.push('  classDef terminal stroke-width:3px');
  if (live) out.push('  classDef occupied fill:#fde68a,stroke:#b45309,stroke-width:2px');

  // Each edge is declared inside the innermost composite holding both ends (Mermaid
  // otherwise lifts states out of their composite); a self-loop goes in its state's parent.
  const edgesIn = new Map<string, Transition[]>();
  const drawn = drawnEdges(graph, detail);
  for (const edge of drawn) {
    const target = edge.target ?? edge.source;
    let container = commonAncestor(graph, edge.source, target);
    if (container.id === edge.source || container.id === target) {
      container = container.parent === null ? graph.root : graph.states.get(container.parent)!;
    }
    const list = edgesIn.get(container.id) ?? [];
    list.push(edge);
    edgesIn.set(container.id, list);
  }

  const classes = new Map<string, string[]>();
  const label = (state: State) => {
    const ids = occupantsOf(state, live);
    // Only leaves are filled: a filled composite would hide its children.
    if (ids.length > 0 && state.children.length === 0) classes.set('occupied', [...(classes.get('occupied') ?? []), idOf(state)]);
    const count = occupancyText(ids, options.maxIds);
    return mermaidText(count ? `${state.key} · ${count}` : state.key);
  };

  const block = (state: State, indent: string) => {
    if (state.initial) out.push(`${indent}[*] --> ${idOf(graph.states.get(state.initial)!)}`);
    for (const child of state.children) {
      const id = idOf(child);
      const lines = compartment(graph, child, detail);
      if (child.children.length > 0) {
        // Mermaid composites take no description lines, and a note beside one covers the edge
        // labels leaving it: the compartment goes into the composite's title instead.
        const title = [label(child), ...lines.map(mermaidText)].join(' · ');
        out.push(`${indent}state "${title}" as ${id} {`);
        block(child, `${indent}  `);
        out.push(`${indent}}`);
      } else {
        out.push(`${indent}state "${label(child)}" as ${id}`);
        for (const line of lines) out.push(`${indent}${id} : ${mermaidText(line)}`);
      }
      if (child.terminal) {
        out.push(`${indent}${id} --> [*]`);
        classes.set('terminal', [...(classes.get('terminal') ?? []), id]);
      }
    }
    for (const edge of edgesIn.get(state.id) ?? []) {
      const from = idOf(graph.states.get(edge.source)!);
      const to = idOf(graph.states.get(edge.target ?? edge.source)!);
      out.push(`${indent}${from} --> ${to} : ${mermaidText(transitionLabel(edge, detail === 'full'))}`);
    }
  };
  block(graph.root, '  ');
  for (const [name, ids] of classes) out.push(`  class ${ids.join(',')} ${name}`);
  return `${out.join('\n')}\n`;
}
