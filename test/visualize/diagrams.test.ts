// Diagrams come from the machine definitions themselves: the graph read from
// `machine.root`, its Mermaid / DOT / SVG renderings, the live view's counts, and the
// Stately export, which must rebuild the same machine.
import { and, createMachine, not, or, setup, stateIn } from 'xstate';
import { describe, expect, test } from 'vitest';
import { supervisorMachine } from '../../machines/supervisor.machine.js';
import { taskMachine } from '../../machines/task.machine.js';
import { toDot } from '../../src/visualize/dot.js';
import { guardText, machineGraph, transitionLabel, type MachineGraph } from '../../src/visualize/graph.js';
import { occupancyOf } from '../../src/visualize/live.js';
import { toMermaid } from '../../src/visualize/mermaid.js';
import { toStately } from '../../src/visualize/stately.js';
import { renderSvg } from '../../src/visualize/svg.js';

const edges = (graph: MachineGraph) => graph.edges.map((t) => `${t.source} -> ${t.target} : ${transitionLabel(t, false)}`);

describe('the task machine read from machine.root', () => {
  const graph = machineGraph(taskMachine);

  test('events, delays, eventless and invoke transitions become labelled edges', () => {
    expect(edges(graph)).toEqual(
      expect.arrayContaining([
        'task.leased -> task.stale : after leaseExpiry',
        'task.leased -> task.planned.backoff : task.fail [canRetry]',
        'task.leased -> task.failed : task.fail [else]',
        'task.stale.grace -> task.quarantined : after graceExpiry [tooManyExpiries]',
        'task.stale.grace -> task.stale.expired : after graceExpiry [else]',
        'task.stale.grace -> task.leased : lease.heartbeat [else]',
        'task.stale.expired -> task.leased : lease.claim',
        'task.stale -> task.completed : task.complete',
        'task.failed.next -> task.compensated : always [allCompensated]',
        'task.failed.running -> task.failed.next : done: compensate',
        'task.failed.running -> task.quarantined : error: compensate [handlerMissing]',
        'task.planned.backoff -> task.planned.ready : after retryBackoff',
      ]),
    );
    expect(edges(graph).filter((e) => e.startsWith('task.planned.ready -> task.leased : lease.claim')).length).toBeGreaterThan(0);
  });

  test("a parent's transition is drawn from the states it applies to: quarantine from every non-terminal state", () => {
    const quarantine = graph.edges.filter((t) => t.trigger.name === 'task.quarantine').map((t) => t.source);
    expect(quarantine).toEqual(['task.planned', 'task.leased', 'task.stale', 'task.failed']);
    expect(graph.everywhere.map((t) => transitionLabel(t, true))).toEqual(['task.annotate / annotate']);
    // The root's no_lease rejections apply only where no state handles those calls itself.
    expect(graph.states.get('task.planned')!.rejections.map((t) => t.rejects)).toEqual(Array(6).fill('no_lease'));
  });

  test('terminal states are the tagged ones; compound states nest their substates', () => {
    const terminal = [...graph.states.values()].filter((s) => s.terminal).map((s) => s.path);
    expect(terminal).toEqual(['completed', 'compensated', 'quarantined']);
    expect(graph.root.children.map((s) => s.key)).toEqual(['planned', 'leased', 'stale', 'failed', 'completed', 'compensated', 'quarantined']);
    expect(graph.states.get('task.stale')!.children.map((s) => s.path)).toEqual(expect.arrayContaining(['stale.grace', 'stale.expired']));
    expect(graph.states.get('task.failed')!.initial).toBe('task.failed.next');
  });

  test('rejections are folded per state with their reasons; owner-call guards read as "not isOwner"', () => {
    const leased = graph.states.get('task.leased')!;
    expect([...new Set(leased.rejections.map((t) => t.rejects))]).toEqual(['held', 'not_owner', 'stale_epoch', 'not_extending']);
    expect(leased.rejections.map((t) => transitionLabel(t, true))).toContain('lease.heartbeat [not isOwner] / reject(not_owner)');
    expect(graph.edges.some((t) => t.rejects !== null)).toBe(false);
  });

  test('Mermaid: nested composites, final markers, composite compartments in their titles; full detail draws every rejection', () => {
    const text = toMermaid(graph);
    expect(text).toMatch(/^---\ntitle: "task · every state: task.annotate \/ annotate"\n---\nstateDiagram-v2\n/);
    expect(text).toMatch(/ {2}state "stale[^"]*" as task_stale \{\n {4}\[\*\] --> task_stale_grace\n/);
    expect(text).toContain('    task_stale_grace --> task_stale_expired : after graceExpiry [else]\n');
    expect(text).toContain('  task_leased --> task_stale : after leaseExpiry\n');
    expect(text).toContain('  task_leased : rejects: held, not_owner, stale_epoch, not_extending\n');
    expect(text).toMatch(/\n {2}state "stale · [^"]+" as task_stale \{\n/);
    expect(text).not.toContain('note right of');
    for (const terminal of ['completed', 'compensated', 'quarantined']) expect(text).toContain(`  task_${terminal} --> [*]\n`);
    expect(text).toContain('class task_completed,task_compensated,task_quarantined terminal');
    expect(text).not.toContain('/ reject(');

    const full = toMermaid(graph, { detail: 'full' });
    expect(full).toContain('task_leased --> task_leased : lease.heartbeat [not isOwner] / reject(not_owner)');
    expect(full).toMatch(/\n {2}task_planned_ready --> task_leased : lease\.claim.* \/ grantLease, emitClaimed/);
    expect(full.split('\n').length).toBeGreaterThan(text.split('\n').length + 30);
  });

  test('DOT: clusters for compound states, double borders for terminal ones, edges clipped at cluster borders', () => {
    const dot = toDot(graph);
    expect(dot).toMatch(/^digraph "task" \{\n/);
    expect(dot).toContain('subgraph "cluster_task.stale" {');
    expect(dot).toContain('subgraph "cluster_task.failed" {');
    expect(dot).toMatch(/"task\.completed" \[label=<<b>completed<\/b>.*peripheries=2/);
    expect(dot).toMatch(/"task\.leased" -> "task\.stale\.grace" \[label="after leaseExpiry", lhead="cluster_task\.stale", style=dashed\]/);
    expect(dot).toContain('error: compensate [handlerMissing]\\nerror: compensate [else]');
  });

  test('SVG is rendered offline from the DOT', async () => {
    const svg = await renderSvg(toDot(graph));
    expect(svg).toMatch(/^<\?xml[\s\S]*<svg [\s\S]*<\/svg>\n$/);
    for (const text of ['leased', 'grace', 'expired', 'after leaseExpiry', 'lease.claim']) expect(svg).toContain(`>${text}</text>`);
  });

  test('the live view annotates states with task counts and, for small counts, ids', () => {
    const occupancy = occupancyOf([
      { id: 'a', substate: 'leased' },
      { id: 'b', substate: 'leased' },
      { id: 'c', substate: 'stale.grace' },
      ...Array.from({ length: 7 }, (_, i) => ({ id: `done-${i}`, substate: 'completed' })),
    ]);
    const text = toMermaid(graph, { occupancy, caption: 'live' });
    expect(text).toContain('state "leased · 2 tasks: a, b" as task_leased');
    expect(text).toMatch(/state "stale · 1 task: c( · [^"]+)?" as task_stale \{/);
    expect(text).toContain('state "grace · 1 task: c" as task_stale_grace');
    expect(text).toContain('state "completed · 7 tasks" as task_completed');
    expect(text).toContain('class task_leased,task_stale_grace,task_completed occupied');
    const dot = toDot(graph, { occupancy, caption: ['live: 10 tasks'] });
    expect(dot).toMatch(/"task\.leased" \[label=<<b>leased<\/b><br\/><font[^>]*><b>2 tasks: a, b<\/b><\/font>/);
    expect(dot).toContain('live: 10 tasks');
  });
});

test('the supervisor machine: invoke outcomes, final states, the mailbox as an internal transition', () => {
  const graph = machineGraph(supervisorMachine);
  expect(edges(graph)).toEqual([
    'supervisor.opening -> supervisor.restoring : done: openStore',
    'supervisor.opening -> supervisor.failed : error: openStore',
    'supervisor.restoring -> supervisor.running : done: restoreTasks',
    'supervisor.restoring -> supervisor.closing : error: restoreTasks',
    'supervisor.running -> supervisor.closing : supervisor.close',
    'supervisor.closing -> supervisor.closed : done: closeStore',
    'supervisor.closing -> supervisor.closed : error: closeStore',
  ]);
  expect(graph.states.get('supervisor.running')!.internal.map((t) => transitionLabel(t, true))).toEqual(['supervisor.command / admitCommand']);
  expect(toMermaid(graph)).toContain('  supervisor_closed --> [*]\n  state "failed" as supervisor_failed\n  supervisor_failed --> [*]\n');
});

test('any machine works, including higher-order guards, numeric delays and parallel states', () => {
  const machine = setup({
    guards: { ready: () => true, allowed: () => true, urgent: () => true },
  }).createMachine({
    id: 'door',
    initial: 'closed',
    states: {
      closed: {
        on: {
          open: [
            { guard: and(['ready', not(or(['allowed', 'urgent']))]), target: 'open' },
            { guard: stateIn('#door.open'), target: 'open' },
          ],
        },
      },
      open: { after: { 500: 'closed' }, type: 'parallel', states: { a: {}, b: {} } },
    },
  });
  const graph = machineGraph(machine);
  expect(edges(graph)).toEqual([
    'door.closed -> door.open : open [ready and not (allowed or urgent)]',
    'door.closed -> door.open : open [in "#door.open"]',
    'door.open -> door.closed : after 500ms',
  ]);
  expect(guardText(not('x'))).toBe('not x');
  expect(toMermaid(graph)).toContain('state "open" as door_open {');
});

test('the Stately export is createMachine code that rebuilds the same machine', () => {
  for (const machine of [taskMachine, supervisorMachine]) {
    const code = toStately(machine);
    expect(code).toContain("import { createMachine } from 'xstate';");
    expect(code).toMatch(new RegExp(`export const ${machine.id}Machine = createMachine\\(\\{\\n  id: '${machine.id}',`));
    const body = code.slice(code.indexOf('createMachine('));
    const rebuilt = new Function('createMachine', `return ${body}`)(createMachine);
    // Same states, transitions, guards, actions and delays: the full diagrams are identical.
    expect(toMermaid(machineGraph(rebuilt), { detail: 'full' })).toBe(toMermaid(machineGraph(machine), { detail: 'full' }));
  }
  const task = toStately(taskMachine);
  expect(task).toContain("after: { leaseExpiry: { target: 'stale', actions: ['recordExpiry', 'emitExpired'] } },");
  expect(task).toContain("guard: 'not isOwner',");
  expect(task).toContain("tags: ['terminal'],");
  expect(task).toContain("entry: 'startCompensation',");
  expect(task).not.toContain('xstate.raise');
});
