// The user view of the task lifecycle: derived from the machine, in the API's words. One edge
// per (source, target, command), no internal event names, every command and every state a user
// can observe present; the full and compact views are untouched (diagrams.test.ts).
import { createMachine } from 'xstate';
import { describe, expect, test } from 'vitest';
import { taskMachine } from '../../machines/task.machine.js';
import { TASK_STATES } from '../../machines/task.types.js';
import { toDot } from '../../src/visualize/dot.js';
import { defaultGraph, WORDS } from '../../src/visualize/files.js';
import { machineGraph, transitionLabel } from '../../src/visualize/graph.js';
import { occupancyOf } from '../../src/visualize/live.js';
import { toMermaid } from '../../src/visualize/mermaid.js';
import { renderSvg } from '../../src/visualize/svg.js';
import { userGraph, userView } from '../../src/visualize/user.js';

interface DrawOp { op: string; size?: number; pt?: [number, number]; width?: number; align?: 'l' | 'c' | 'r'; text?: string; points?: [number, number][] }
interface LayoutObject { name?: string; pos?: string; width?: string; height?: string; _draw_?: DrawOp[]; _ldraw_?: DrawOp[] }
interface Layout extends LayoutObject { objects?: LayoutObject[]; edges?: LayoutObject[] }
interface Box { text: string; owner: string; node: boolean; x0: number; y0: number; x1: number; y1: number }

/** Points along a piecewise cubic Bézier curve (Graphviz's edge splines). */
function bezierPoints(points: [number, number][]): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i + 3 < points.length; i += 3) {
    const [p0, p1, p2, p3] = points.slice(i, i + 4) as [[number, number], [number, number], [number, number], [number, number]];
    for (let k = 0; k <= 20; k++) {
      const t = k / 20;
      const at = (d: 0 | 1) => (1 - t) ** 3 * p0[d] + 3 * (1 - t) ** 2 * t * p1[d] + 3 * (1 - t) * t * t * p2[d] + t ** 3 * p3[d];
      out.push([at(0), at(1)]);
    }
  }
  return out;
}

/** Every text Graphviz placed (with its own font metrics), and every state's box. */
function labelBoxes(layout: Layout): Box[] {
  const boxes: Box[] = [];
  const objects = [layout, ...(layout.objects ?? []), ...(layout.edges ?? [])];
  objects.forEach((o, i) => {
    let size = 14;
    for (const op of o._ldraw_ ?? []) {
      if (op.op === 'F') size = op.size!;
      if (op.op !== 'T') continue;
      const [x, y] = op.pt!;
      const x0 = x - { l: 0, c: op.width! / 2, r: op.width! }[op.align!];
      boxes.push({ text: op.text!, owner: `${i}`, node: false, x0, y0: y - size * 0.25, x1: x0 + op.width!, y1: y + size * 0.8 });
    }
    if (o.pos && o.width && o.height && !o.name?.endsWith('__initial')) {
      const [x, y] = o.pos.split(',').map(Number) as [number, number];
      const [w, h] = [Number(o.width) * 72, Number(o.height) * 72];
      boxes.push({ text: `state ${o.name}`, owner: `${i}`, node: true, x0: x - w / 2, y0: y - h / 2, x1: x + w / 2, y1: y + h / 2 });
    }
  });
  return boxes;
}

const COMMANDS = ['claim', 'heartbeat', 'extend', 'complete', 'fail', 'release', 'quarantine', 'addCompensation', 'annotate'];
const HAPPENINGS = ['lease expires', 'grace ends', 'backoff ends', 'grace extended', 'all compensations done', 'compensation failed'];
const INTERNAL = /task\.resume|xstate\.|done:|error:|\balways\b|lease\.|task\.(complete|fail|quarantine|annotate)|compensation\.add|reject|\[else\]/;

describe('the user view of the task lifecycle', () => {
  const graph = userGraph(taskMachine, WORDS.task);
  const key = (t: { source: string; target: string | null; command?: string }) => `${t.source} -> ${t.target} : ${t.command}`;
  const texts = {
    mermaid: toMermaid(graph),
    dot: toDot(graph),
  };

  test('is the default drawing of the task machine', () => {
    expect(defaultGraph('task').edges.map(key)).toEqual(graph.edges.map(key));
    expect(graph.detail).toBe('user');
  });

  test('has exactly one edge per (source, target, command), each in the API words', () => {
    const keys = graph.edges.map(key);
    expect(new Set(keys).size).toBe(keys.length);
    for (const edge of graph.edges) expect([...COMMANDS, ...HAPPENINGS]).toContain(edge.command);
    expect(graph.edges.map((t) => `${key(t)}${t.guard ? ` [${t.guard}]` : ''}`)).toEqual(
      expect.arrayContaining([
        'task.planned.ready -> task.leased : claim',
        'task.planned.backoff -> task.planned.ready : backoff ends',
        'task.leased -> task.leased : heartbeat',
        'task.leased -> task.stale : lease expires',
        'task.leased -> task.planned.backoff : fail [retryable, attempts left]',
        'task.leased -> task.failed : fail [no retry]',
        'task.stale.grace -> task.leased : heartbeat',
        'task.stale.grace -> task.stale.grace : grace extended',
        'task.stale.grace -> task.quarantined : grace ends [too many expiries]',
        'task.stale.grace -> task.stale.expired : grace ends',
        'task.stale.expired -> task.leased : claim',
        'task.stale -> task.completed : complete',
        'task.failed -> task.compensated : all compensations done',
        'task.failed -> task.quarantined : compensation failed [no handler or retries used up]',
      ]),
    );
  });

  test('shows no internal event, XState event, guard or action name', () => {
    for (const edge of graph.edges) expect(transitionLabel(edge, true)).not.toMatch(INTERNAL);
    for (const [format, text] of Object.entries(texts)) {
      expect(text, format).not.toMatch(/task\.resume|xstate\.|done: |error: |re-enters|rejects:|decideGrace|hasHandOff|reachesMaxRenewals|\[else\]/);
    }
  });

  test('names every API command, and each live state it comes from once', () => {
    for (const command of COMMANDS) for (const text of Object.values(texts)) expect(text).toContain(command);
    // heartbeat from leased (stays) and from grace (late, back to leased): never twice from one state.
    const heartbeats = graph.edges.filter((t) => t.command === 'heartbeat').map((t) => t.source);
    expect(heartbeats).toEqual([...new Set(heartbeats)]);
    expect(graph.notes).toContain('quarantine: from every state that is not terminal to quarantined');
    expect(graph.notes).toContain('heartbeat, extend, release, complete, fail, addCompensation: only the holder, with the current epoch');
    expect(graph.everywhere.map((t) => transitionLabel(t, false))).toEqual(['annotate']);
  });

  test('has every state a user can observe, and none of the internal steps', () => {
    const paths = [...graph.states.values()].map((s) => s.path);
    for (const state of [...TASK_STATES, 'stale.grace', 'stale.expired', 'planned.backoff']) expect(paths).toContain(state);
    expect(paths).not.toContain('stale.deciding');
    expect(paths.filter((p) => p.startsWith('failed.'))).toEqual([]);
    for (const state of TASK_STATES) expect(texts.mermaid).toMatch(new RegExp(`state "${state}( · [^"]+)?" as `));
  });

  test('DOT: self-loops are lines inside their state, back edges keep the top-down order', async () => {
    expect(texts.dot).toContain('stays on: heartbeat, extend, addCompensation');
    expect(texts.dot).not.toMatch(/"task\.leased" -> "task\.leased"/);
    expect(texts.dot).toMatch(/"task\.planned\.ready" -> "task\.leased" \[label="release", dir=back, ltail="cluster_task\.planned"\]/);
    const svg = await renderSvg(texts.dot);
    for (const text of ['claim', 'lease expires', 'grace ends [too many expiries]', 'stays on: heartbeat, extend, addCompensation']) {
      expect(svg).toContain(`>${text}</text>`);
    }
  });

  test('Graphviz lays it out with no two labels overlapping, nor a label over a state', async () => {
    const { Graphviz } = await import('@hpcc-js/wasm-graphviz');
    const layout = JSON.parse((await Graphviz.load()).dot(texts.dot, 'json')) as Layout;
    const boxes = labelBoxes(layout);
    expect(boxes.length).toBeGreaterThan(30);
    const overlaps = boxes.flatMap((a, i) =>
      boxes.slice(i + 1).filter((b) => a.owner !== b.owner && !(a.node && b.node) && a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1).map((b) => `${a.text} | ${b.text}`),
    );
    expect(overlaps).toEqual([]);
    // Nor an edge drawn through another edge's label or a state's lines.
    const crossings = (layout.edges ?? []).flatMap((edge, i) => {
      const owner = `${1 + (layout.objects ?? []).length + i}`;
      const points = (edge._draw_ ?? []).filter((op) => op.op === 'b' || op.op === 'B').flatMap((op) => bezierPoints(op.points!));
      return boxes
        .filter((b) => !b.node && b.owner !== owner && points.some(([x, y]) => b.x0 < x && x < b.x1 && b.y0 < y && y < b.y1))
        .map((b) => `${edge.name ?? i} through "${b.text}"`);
    });
    expect(crossings).toEqual([]);
  });

  test('the live view counts a task in a folded step in the state it is shown as', () => {
    const occupancy = occupancyOf([
      { id: 'a', substate: 'stale.deciding' },
      { id: 'b', substate: 'stale.grace' },
      { id: 'c', substate: 'failed.running' },
    ]);
    const text = toMermaid(graph, { occupancy });
    expect(text).toContain('state "grace · 2 tasks: a, b" as task_stale_grace');
    expect(text).toContain('state "failed · 1 task: c" as task_failed');
    expect(toDot(graph, { occupancy })).toContain('2 tasks: a, b');
  });

  test('the full and compact views are still drawn from the same machine graph', () => {
    const full = machineGraph(taskMachine);
    expect(toMermaid(full)).toContain('task.resume (re-enters)');
    expect(toMermaid(full, { detail: 'full' })).toContain('[not isOwner] / reject(not_owner)');
    // detail: 'user' on a machine graph is its user view without words.
    expect(toMermaid(full, { detail: 'user' })).toBe(toMermaid(userView(full)));
  });
});

test('without words, any machine gets a user view: events by name, rejections and bare re-entries left out', () => {
  const machine = createMachine({
    id: 'door',
    initial: 'closed',
    states: {
      closed: { on: { open: 'open', knock: { actions: 'reject' }, resume: { target: 'closed', reenter: true } } },
      open: { after: { 500: 'closed' }, on: { close: 'closed' } },
    },
  });
  const graph = userView(machineGraph(machine));
  expect(graph.edges.map((t) => `${t.source} -> ${t.target} : ${transitionLabel(t, false)}`)).toEqual([
    'door.closed -> door.open : open',
    'door.open -> door.closed : close',
    'door.open -> door.closed : after 500ms',
  ]);
});
