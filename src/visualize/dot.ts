// Graphviz DOT from a machine graph (see graph.ts for what is drawn and folded). Compound
// states are nested clusters; edges into or out of a compound state are clipped at its
// border (`lhead`/`ltail`); terminal states get a double border; timers and eventless
// transitions are dashed. With an occupancy map, occupied states are highlighted with
// their task counts (the live view).
import {
  compartment,
  drawnEdges,
  internalLabel,
  isAncestor,
  isBareReentry,
  transitionLabel,
  walk,
  type Detail,
  type MachineGraph,
  type State,
  type Transition,
} from './graph.js';
import { occupancyText, occupantsOf, shownOccupancy, type Occupancy } from './live.js';
import { userView } from './user.js';

export interface DotOptions {
  detail?: Detail;
  occupancy?: Occupancy;
  maxIds?: number;
  /** Extra caption lines (the live view says where and when its counts come from). */
  caption?: string[];
}

const palette = {
  font: 'Helvetica',
  state: { fill: '#eef2ff', line: '#4f46e5' },
  terminal: { fill: '#ecfdf5', line: '#047857' },
  occupied: { fill: '#fde68a', line: '#b45309' },
  cluster: { fill: '#f8fafc', line: '#64748b' },
  edge: '#334155',
  quiet: '#64748b',
  error: '#b91c1c',
};

/** A double-quoted DOT id or string. */
const quote = (text: string) => `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;

/** Text inside an HTML-like label. */
const html = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const clusterId = (state: State) => quote(`cluster_${state.id}`);

/** The node an edge attaches to for a state: itself, or for a compound state its initial leaf. */
function anchor(graph: MachineGraph, state: State): State {
  let current = state;
  while (current.children.length > 0) current = graph.states.get(current.initial ?? current.children[0]!.id)!;
  return current;
}

function nameLabel(state: State, lines: string[], live: string, bold: boolean): string {
  const name = bold ? `<b>${html(state.key)}</b>` : html(state.key);
  const parts = [name];
  if (live) parts.push(`<font point-size="10" color="${palette.occupied.line}"><b>${html(live)}</b></font>`);
  for (const line of lines) parts.push(`<font point-size="9" color="${palette.quiet}">${html(line)}</font>`);
  return `<${parts.join('<br/>')}>`;
}

export function toDot(machineGraph: MachineGraph, options: DotOptions = {}): string {
  const detail = options.detail ?? machineGraph.detail ?? 'compact';
  const graph = detail === 'user' && machineGraph.detail !== 'user' ? userView(machineGraph) : machineGraph;
  const live = shownOccupancy(graph, options.occupancy);
  const out: string[] = [];
  const drawn = drawnEdges(graph, detail);
  const everywhere = graph.everywhere.map((t) => (detail === 'user' ? transitionLabel(t, false) : internalLabel(t)));
  const kinds = new Set(drawn.map((t) => t.trigger.kind));
  const states = [...graph.states.values()];
  const grey = [
    ...(states.some((s) => s.internal.length > 0) ? ['internal transitions'] : []),
    ...(detail === 'compact' && graph.edges.some(isBareReentry) ? ['re-entries'] : []),
    ...(detail === 'compact' && states.some((s) => s.rejections.length > 0) ? ['the reasons a state rejects calls (--detail full draws each rejection)'] : []),
    ...(detail === 'user' && graph.edges.some((t) => t.source === t.target) ? ['what a state accepts without leaving it, and what it does'] : []),
  ];
  const caption = [
    ...(options.caption ?? []),
    ...(everywhere.length > 0 ? [`every state: ${everywhere.join('; ')}`] : []),
    ...(graph.notes ?? []),
    [
      'double border: terminal state',
      ...(kinds.has('after') || kinds.has('always') ? ['dashed: timer (after) or eventless (always)'] : []),
      ...(kinds.has('error') ? ['red: the invoked actor failed'] : []),
    ].join(' · '),
    ...(grey.length > 0 ? [`grey lines: ${grey.length > 1 ? `${grey.slice(0, -1).join(', ')} and ${grey.at(-1)}` : grey[0]}`] : []),
    ...(detail === 'user' ? ['not drawn: calls a state rejects (they change nothing) and internal steps (--detail compact draws every transition)'] : []),
  ];
  out.push(`digraph ${quote(graph.id)} {`);
  out.push(
    // The user view has fewer edges but longer labels: more room between states, and a margin
    // for a label that ends at the drawing's edge.
    `  graph [compound=true, rankdir=TB, ${detail === 'user' ? 'nodesep=0.7, ranksep=0.9, pad=0.2' : 'nodesep=0.5, ranksep=0.7'}, fontname=${quote(palette.font)}, fontsize=12,` +
      ` labelloc=b, labeljust=l, label=<${caption.map(html).join('<br align="left"/>')}<br align="left"/>>];`,
  );
  out.push(
    `  node [shape=box, style="rounded,filled", fillcolor=${quote(palette.state.fill)}, color=${quote(palette.state.line)}, fontname=${quote(palette.font)}, fontsize=12, margin="0.15,0.06"];`,
  );
  out.push(`  edge [fontname=${quote(palette.font)}, fontsize=9, color=${quote(palette.edge)}, fontcolor=${quote(palette.edge)}, arrowsize=0.7];`);

  const block = (state: State, indent: string) => {
    if (state.initial) {
      const start = quote(`${state.id}.__initial`);
      out.push(`${indent}${start} [shape=point, width=0.12, label="", color=${quote(palette.edge)}, fillcolor=${quote(palette.edge)}];`);
      out.push(`${indent}${start} -> ${quote(anchor(graph, graph.states.get(state.initial)!).id)}${lhead(graph, graph.states.get(state.initial)!)};`);
    }
    for (const child of state.children) {
      const ids = occupantsOf(child, live);
      const count = occupancyText(ids, options.maxIds);
      const lines = compartment(graph, child, detail);
      const tooltip = child.description ? `, tooltip=${quote(child.description)}` : '';
      if (child.children.length > 0) {
        out.push(`${indent}subgraph ${clusterId(child)} {`);
        out.push(
          `${indent}  graph [label=${nameLabel(child, lines, count, true)}, style="rounded,filled", fillcolor=${quote(ids.length > 0 ? '#fffbeb' : palette.cluster.fill)},` +
            ` color=${quote(ids.length > 0 ? palette.occupied.line : palette.cluster.line)}, penwidth=${ids.length > 0 ? 2 : 1}, labeljust=l${detail === 'user' ? ', labelloc=t' : ''}${tooltip}];`,
        );
        block(child, `${indent}  `);
        out.push(`${indent}}`);
        continue;
      }
      const colors = ids.length > 0 ? palette.occupied : child.terminal ? palette.terminal : palette.state;
      const attrs = [
        `label=${nameLabel(child, lines, count, child.terminal || ids.length > 0)}`,
        `fillcolor=${quote(colors.fill)}`,
        `color=${quote(colors.line)}`,
        ...(child.terminal ? ['peripheries=2'] : []),
        ...(ids.length > 0 ? ['penwidth=2'] : []),
      ];
      out.push(`${indent}${quote(child.id)} [${attrs.join(', ')}${tooltip}];`);
    }
  };
  block(graph.root, '  ');

  // Parallel edges (same ends, same look) become one edge with a line per transition, so
  // labels do not pile up on top of each other.
  const merged = new Map<string, { head: string; attrs: string[]; labels: string[]; tooltips: string[] }>();
  for (const edge of drawn) {
    const { head, attrs } = edgeShape(graph, edge, detail);
    const key = `${head} ${attrs.join(',')}`;
    const group = merged.get(key) ?? { head, attrs, labels: [], tooltips: [] };
    group.labels.push(transitionLabel(edge, detail === 'full'));
    if (edge.description) group.tooltips.push(edge.description);
    merged.set(key, group);
  }
  for (const { head, attrs, labels, tooltips } of merged.values()) {
    const all = [`label=${quote(labels.join('\n'))}`, ...attrs, ...(tooltips.length > 0 ? [`tooltip=${quote(tooltips.join(' '))}`] : [])];
    out.push(`  ${head} [${all.join(', ')}];`);
  }
  out.push('}');
  return `${out.join('\n')}\n`;
}

/** The last leaf of a compound state in document order. */
function lastLeaf(state: State): State {
  let current = state;
  while (current.children.length > 0) current = current.children.at(-1)!;
  return current;
}

function lhead(graph: MachineGraph, target: State, source?: State): string {
  if (target.children.length === 0 || (source && isAncestor(target, source))) return '';
  return ` [lhead=${clusterId(target)}]`;
}

const orders = new WeakMap<MachineGraph, Map<string, number>>();

/** A state's position in document order. */
function order(graph: MachineGraph, state: State): number {
  let positions = orders.get(graph);
  if (!positions) {
    const map = new Map<string, number>();
    walk(graph.root, (s) => void map.set(s.id, map.size));
    orders.set(graph, map);
    positions = map;
  }
  return positions.get(state.id)!;
}

function edgeShape(graph: MachineGraph, edge: Transition, detail: Detail): { head: string; attrs: string[] } {
  const source = graph.states.get(edge.source)!;
  const target = graph.states.get(edge.target ?? edge.source)!;
  const attrs: string[] = [];
  // States are ranked top to bottom in document order (the order the machine lists them,
  // which reads as the lifecycle); an edge back up that order does not pull ranks around.
  // The user view draws it as the reverse edge with its arrow at the tail, so it still ranks
  // the states in that order and runs alongside the edges going down instead of around them.
  const [from, to] = [order(graph, anchor(graph, source)), order(graph, anchor(graph, target))];
  const back = to < from && detail === 'user';
  if (to < from && !back) attrs.push('constraint=false');
  if (back) attrs.push('dir=back');
  // Clip at a compound state's border, unless one end lies inside the other.
  const tail = source.children.length > 0 && !isAncestor(source, target) ? `${back ? 'lhead' : 'ltail'}=${clusterId(source)}` : null;
  const head = target.children.length > 0 && !isAncestor(target, source) ? `${back ? 'ltail' : 'lhead'}=${clusterId(target)}` : null;
  attrs.push(...[back ? head : tail, back ? tail : head].filter((a): a is string => a !== null));
  if (edge.trigger.kind === 'after' || edge.trigger.kind === 'always') attrs.push('style=dashed');
  if (edge.trigger.kind === 'error') attrs.push(`color=${quote(palette.error)}`, `fontcolor=${quote(palette.error)}`);
  if (edge.rejects !== null) attrs.push('style=dotted', `color=${quote(palette.quiet)}`, `fontcolor=${quote(palette.quiet)}`);
  // An edge down and out of a compound state leaves from its last state: the bottom of its box.
  const from_ = detail === 'user' && !back && source.children.length > 0 && !isAncestor(source, target) ? lastLeaf(source) : anchor(graph, source);
  const [a, b] = back ? [anchor(graph, target), from_] : [from_, anchor(graph, target)];
  return { head: `${quote(a.id)} -> ${quote(b.id)}`, attrs };
}
