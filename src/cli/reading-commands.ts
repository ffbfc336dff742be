// The `leasehold` commands that only read: list, show, stats, diagram and trace. They take no
// lock: they read the files with the store reader (reading.ts), so they work while another
// process holds the store (an orchestrator, a daemon), never change a byte of it, and show a
// deadline that passed as overdue instead of acting on it. Given a daemon's url (`--url` or
// LEASEHOLD_URL, with LEASEHOLD_TOKEN) and no `--store`, they ask its API instead (remote.ts).
import { writeFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { LeaseholdError, systemClock, TASK_STATES, type SupervisorStats, type TaskView } from '../index.js';
import { counted } from '../stats/count.js';
import { archivedTask, archivePathOf } from '../schedule/archive.js';
import { toDot } from '../visualize/dot.js';
import { MACHINES, WORDS, type MachineName } from '../visualize/files.js';
import { machineGraph, type Detail } from '../visualize/graph.js';
import { occupancyOf } from '../visualize/live.js';
import { toMermaid } from '../visualize/mermaid.js';
import { toStately } from '../visualize/stately.js';
import { renderSvg } from '../visualize/svg.js';
import { toTrace } from '../visualize/trace.js';
import { userGraph } from '../visualize/user.js';
import { examples, type GlobalOptions } from './arguments.js';
import { iso, print, showLines, taskLine } from './output.js';
import { readTasks, statsOfTasks, type ReadTaskView } from './reading.js';
import { readingClient, using, type Reach } from './remote.js';

/** The tasks as the reading commands see them: from the files, or from the API (`api`). */
interface Read {
  location: string;
  tasks: ReadTaskView[];
  api: boolean;
}

export function addReadingCommands(cli: Command, opts: () => GlobalOptions, reach: () => Reach) {
  // Reads take no lock (so --wait does not apply) and act on no deadline: `now` only flags
  // overdue ones. Through the API the daemon's supervisor has processed every deadline.
  const read = async (): Promise<Read> => {
    const client = readingClient(reach());
    if (client) return { location: reach().url!, tasks: await using(client, (api) => api.list()), api: true };
    return { ...(await readTasks(opts().store, systemClock().now())), api: false };
  };

  cli
    .command('list')
    .description('list tasks, optionally only those in one state')
    .addOption(new Option('--state <state>', 'only tasks in this state').choices([...TASK_STATES]))
    .addHelpText('after', examples('leasehold list --state stale --store .leasehold/store.json'))
    .action(async (o: { state?: TaskView['state'] }) => {
      const tasks = (await read()).tasks.filter((task) => o.state === undefined || task.state === o.state);
      print(tasks, opts().json, () => (tasks.length === 0 ? '(no tasks)' : tasks.map(taskLine)));
    });

  cli
    .command('show')
    .description('show one task: state, lease, epochs, compensations, recovery hand-off, history (also once archived by the retain sweep)')
    .argument('<id>', 'task id')
    .addHelpText('after', examples('leasehold show migrate-db --json'))
    .action(async (id: string) => {
      // A task the retain sweep moved out of the store is read from the archive beside it.
      const archive = archivePathOf(opts().store);
      const { tasks, api } = await read();
      const live = tasks.find((task) => task.id === id);
      const task = live ?? (api ? undefined : await archivedTask(archive, id));
      if (!task) throw new LeaseholdError('TASK_NOT_FOUND', `task "${id}" does not exist`, { taskId: id });
      print(task, opts().json, () => [...showLines(task), ...(live ? [] : [`archived in ${archive}`])]);
    });

  cli
    .command('stats')
    .description('count tasks by state')
    .action(async () => {
      const client = readingClient(reach());
      const now = systemClock().now();
      const stats: SupervisorStats & { overdue?: number } = client
        ? await using(client, (api) => api.stats())
        : statsOfTasks((await readTasks(opts().store, now)).tasks, now);
      print(stats, opts().json, () => [
        counted(stats.total, 'task'),
        ...Object.entries(stats.byState).map(([state, n]) => `  ${state.padEnd(12)} ${n}`),
        ...(stats.overdue ?  [`${stats.overdue} overdue (a deadline passed, not yet processed: a supervisor acts on it when it runs)`] : []),
      ]);
    });

  cli
    .command('diagram')
    .description(
      'draw a machine from its definition; with --store (or --live) the task lifecycle is drawn live, ' +
        'each state showing how many tasks are in it now (and their ids when few)',
    )
    .addOption(new Option('--machine <machine>', 'which machine').choices(Object.keys(MACHINES)).default('task'))
    .addOption(new Option('--format <format>', 'output format').choices(['mermaid', 'dot', 'svg', 'stately']).default('mermaid'))
    .addOption(
      new Option(
        '--detail <detail>',
        'user (the default for the task lifecycle): one edge per API command, internal events and rejections hidden; ' +
          'compact: every transition, rejections folded into one line per state (the default for the supervisor); full: each rejection drawn',
      ).choices(['user', 'compact', 'full']),
    )
    .option('--live', 'annotate with the tasks in the store (implied by an explicit --store)', false)
    .option('-o, --out <file>', 'write to this file instead of stdout')
    .addHelpText(
      'after',
      examples(
        'leasehold diagram                                   # task lifecycle, Mermaid',
        'leasehold diagram --detail compact --format svg     # every transition, rejections folded per state',
        'leasehold diagram --machine supervisor --format dot',
        'leasehold diagram --store .leasehold/store.json --format svg --out live.svg',
        'leasehold diagram --format stately > task.machine.stately.ts   # for Stately Studio "Import from code"',
      ),
    )
    .action(async (o: { machine: MachineName; format: 'mermaid' | 'dot' | 'svg' | 'stately'; detail?: Detail; live: boolean; out?: string }) => {
      const words = WORDS[o.machine];
      const detail: Detail = o.detail ?? (words ? 'user' : 'compact');
      const live = o.live || cli.getOptionValueSource('store') === 'cli';
      const machine = MACHINES[o.machine];
      if (live && o.machine !== 'task') throw new LeaseholdError('INVALID_INPUT', 'the live view draws the task lifecycle: use --machine task');
      if (live && o.format === 'stately') throw new LeaseholdError('INVALID_INPUT', '--format stately exports the machine definition and has no live view');
      let text: string;
      if (o.format === 'stately') {
        text = toStately(machine);
      } else {
        const graph = detail === 'user' ? userGraph(machine, words) : machineGraph(machine);
        let occupancy;
        let caption: string | undefined;
        if (live) {
          const now = systemClock().now();
          const { tasks, location } = await read();
          occupancy = occupancyOf(tasks);
          caption = `live: ${counted(tasks.length, 'task')} in ${location} at ${iso(now)}`;
        }
        const options = { detail, ...(occupancy && { occupancy }) };
        if (o.format === 'mermaid') text = toMermaid(graph, { ...options, ...(caption && { caption }) });
        else {
          const dot = toDot(graph, { ...options, ...(caption && { caption: [caption] }) });
          text = o.format === 'dot' ? dot : await renderSvg(dot);
        }
      }
      emit(text, o.out, { machine: o.machine, format: o.format, detail, live });
    });

  cli
    .command('trace')
    .description("one task's recorded history as a Mermaid sequence diagram: who held it, when and why it changed hands")
    .argument('<id>', 'task id')
    .option('-o, --out <file>', 'write to this file instead of stdout')
    .addHelpText('after', examples('leasehold trace fix-login --store .leasehold/store.json > fix-login.mmd'))
    .action(async (id: string, o: { out?: string }) => {
      const task = (await read()).tasks.find((task) => task.id === id);
      if (!task) throw new LeaseholdError('TASK_NOT_FOUND', `task "${id}" does not exist`, { taskId: id });
      emit(toTrace(task), o.out, { taskId: id, format: 'mermaid' });
    });

  function emit(text: string, out: string | undefined, about: Record<string, unknown>) {
    if (out) {
      try {
        writeFileSync(out, text);
      } catch (error) {
        // A path the user gave that cannot be written is their input, not a bug.
        throw new LeaseholdError('INVALID_INPUT', `cannot write ${out}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
      }
      print({ ...about, file: out }, opts().json, () => `wrote ${out}`);
    } else if (opts().json) {
      print({ ...about, text }, true, () => '');
    } else {
      process.stdout.write(text);
    }
  }
}
