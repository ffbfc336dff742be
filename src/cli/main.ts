#!/usr/bin/env node
// The `leasehold` command: drive and inspect a store from the shell. Every command that
// changes tasks opens the store through a supervisor, so it takes the store's lock like any
// other supervisor and never writes around it; a store held by another process is reported
// plainly. The reading commands (list, show, stats, diagram --live, trace) read the files
// without the lock (reading.ts): they work while an orchestrator holds the store, never change
// a byte of it, and show a deadline that passed as overdue instead of acting on it. The CLI
// registers no compensators: compensations of a task failed here stay pending, their
// attempt recorded as started, for the next supervisor that has them (see supervised.ts).
import { writeFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import {
  LeaseholdError,
  systemClock,
  TASK_STATES,
  type Json,
  type Supervisor,
  type TaskView,
} from '../index.js';
import { PRIORITIES } from '../../machines/task.types.js';
import { counted } from '../stats/count.js';
import { archivedTask, archivePathOf } from '../schedule/archive.js';
import { toDot } from '../visualize/dot.js';
import { MACHINES, type MachineName } from '../visualize/files.js';
import { machineGraph, type Detail } from '../visualize/graph.js';
import { occupancyOf } from '../visualize/live.js';
import { toMermaid } from '../visualize/mermaid.js';
import { toStately } from '../visualize/stately.js';
import { renderSvg } from '../visualize/svg.js';
import { toTrace } from '../visualize/trace.js';
import { collect, compensationSpec, json, metadataPair, number } from './arguments.js';
import { EXIT_CODES } from './exit-codes.js';
import { examples, iso, leaseLines, print, reportError, showLines, taskLine } from './output.js';
import { readTasks, statsOfTasks } from './reading.js';
import { addMcpCommand } from './mcp.js';
import { addServiceCommands } from './service.js';
import { withSupervisor } from './supervised.js';
import { packageVersion } from './version.js';

export { EXIT_CODES };

const DEFAULT_STORE = '.leasehold/store.json';
/**
 * How long a command waits for a store another process holds. A command holds the store for
 * well under a second, so concurrent commands take their turns within it; a store held by an
 * orchestrator stays held, and 5 s is as long as a person should wait to be told so.
 */
const DEFAULT_WAIT_MS = 5_000;

const ownerOptions = (command: Command) =>
  command
    .requiredOption('--owner <owner>', 'the lease holder')
    .requiredOption('--epoch <n>', "the lease's epoch (fencing token)", number);

export function program(): Command {
  const cli = new Command('leasehold')
    .description(
      'Durable task leases and sagas: create, claim, heartbeat and finish tasks in a leasehold store, ' +
        "inspect it, and draw the lifecycle (live, with current task counts) or one task's trace.",
    )
    .addOption(new Option('--store <file>', 'the JSON store file').default(DEFAULT_STORE))
    .option('--json', 'print JSON instead of readable lines', false)
    .addOption(new Option('--wait <ms>', 'how long a command that changes tasks waits for a store another process holds before exit 8 (0: at once; reads never wait)').argParser(number).default(DEFAULT_WAIT_MS))
    .exitOverride()
    // Commander prints nothing of its own: its errors (and the help it would print for a
    // missing command) come back as the CommanderError that exitOverride makes it throw, and
    // run() reports them like every other error. Subcommands inherit both settings.
    .configureOutput({ writeErr: () => {}, outputError: () => {} })
    .version(packageVersion(), '-V, --version', 'print the version of leasehold')
    .addHelpText(
      'after',
      `${examples(
        'leasehold create fix-login --priority high --spec \'{"branch":"agent/login"}\'',
        'leasehold --json claim-next --owner agent-7',
        'leasehold heartbeat fix-login --owner agent-7 --epoch 1 --progress 40 --message "tests pass"',
        'leasehold complete fix-login --owner agent-7 --epoch 1',
        'leasehold list --state stale',
        'leasehold diagram --store .leasehold/store.json --format svg --out lifecycle.svg',
        'leasehold trace fix-login',
      )}

Reading commands (list, show, stats, diagram --live, trace) take no lock: they run while
another process holds the store, change nothing, and show a passed deadline as overdue.

Exit codes:
  0 ok, 1 unexpected error, 2 invalid input or usage (also: no store at --store for a
  reading command), 3 task not found, 4 duplicate task, 5 lease conflict, 6 terminal task,
  7 store corrupt, 8 store locked by another process, 9 store write failed, 10 supervisor closed,
  11 unauthorized (daemon token), 12 forbidden, 13 agent not found, 14 duplicate agent.
Errors go to stderr as "leasehold: CODE: message", or with --json as
{"error":{"code","reason"?,"message","issues"?}}; stdout stays empty.`,
    );

  const opts = () => cli.opts<{ store: string; json: boolean; wait: number }>();
  const on = <T>(use: (sup: Supervisor) => T | Promise<T>) => withSupervisor(opts().store, opts().wait, use);
  // Reads take no lock (so --wait does not apply) and act on no deadline: `now` only flags overdue ones.
  const read = () => readTasks(opts().store, systemClock().now());

  cli
    .command('create')
    .description('create a planned task')
    .argument('<id>', 'task id')
    .option('--spec <json>', 'the task spec, as JSON', json)
    .addOption(new Option('--priority <priority>', 'claim order').choices([...PRIORITIES]))
    .option('--label <label>', 'a label claim-next can filter on (repeatable)', collect)
    .option('--compensation <action[=json]>', 'a compensation registered up front (repeatable)', collect)
    .option('--lease-ms <ms>', 'lease duration', number)
    .option('--grace-ms <ms>', 'grace after expiry (0 = none)', number)
    .option('--max-attempts <n>', 'claims allowed by retryable failures', number)
    .option('--max-stale <n>', 'expiries before the task is quarantined', number)
    .option('--max-renewals <n>', 'heartbeats per lease before `stuck` is reported', number)
    .addHelpText('after', examples('leasehold create fix-login --priority high --label backend --spec \'{"worktree":"wt/login"}\'', "leasehold create deploy --compensation 'rollback={\"to\":\"v1\"}' --lease-ms 60000"))
    .action(
      async (
        id: string,
        o: { spec?: Json; priority?: (typeof PRIORITIES)[number]; label?: string[]; compensation?: string[]; leaseMs?: number; graceMs?: number; maxAttempts?: number; maxStale?: number; maxRenewals?: number },
      ) => {
        const input = {
          id,
          ...(o.spec !== undefined && { spec: o.spec }),
          ...(o.priority && { priority: o.priority }),
          ...(o.label && { labels: o.label }),
          ...(o.compensation && { compensations: o.compensation.map(compensationSpec) }),
          ...(o.leaseMs !== undefined && { leaseMs: o.leaseMs }),
          ...(o.graceMs !== undefined && { graceMs: o.graceMs }),
          ...(o.maxAttempts !== undefined && { maxAttempts: o.maxAttempts }),
          ...(o.maxStale !== undefined && { maxStale: o.maxStale }),
          ...(o.maxRenewals !== undefined && { maxRenewals: o.maxRenewals }),
        };
        const task = await on((sup) => sup.create(input));
        print(task, opts().json, () => taskLine(task));
      },
    );

  cli
    .command('claim')
    .description('lease one task; prints the lease (remember its epoch)')
    .argument('<id>', 'task id')
    .requiredOption('--owner <owner>', 'who takes the lease')
    .option('--lease-ms <ms>', 'lease duration (default: the task\'s)', number)
    .addHelpText('after', examples('leasehold claim fix-login --owner agent-7', 'leasehold --json claim fix-login --owner agent-7 --lease-ms 120000'))
    .action(async (id: string, o: { owner: string; leaseMs?: number }) => {
      const lease = await on((sup) => sup.claim(id, { owner: o.owner, ...(o.leaseMs !== undefined && { leaseMs: o.leaseMs }) }));
      print(lease, opts().json, () => leaseLines(lease));
    });

  cli
    .command('claim-next')
    .description('lease the highest-priority, oldest claimable task; prints the lease, or null when none')
    .requiredOption('--owner <owner>', 'who takes the lease')
    .option('--lease-ms <ms>', 'lease duration (default: the task\'s)', number)
    .option('--label <label>', 'only tasks with this label (repeatable)', collect)
    .addHelpText('after', examples('leasehold --json claim-next --owner agent-7 --label backend'))
    .action(async (o: { owner: string; leaseMs?: number; label?: string[] }) => {
      const lease = await on((sup) =>
        sup.claimNext({ owner: o.owner, ...(o.leaseMs !== undefined && { leaseMs: o.leaseMs }), ...(o.label && { labels: o.label }) }),
      );
      print(lease, opts().json, () => (lease ? leaseLines(lease) : 'no claimable task'));
    });

  ownerOptions(
    cli
      .command('heartbeat')
      .description('renew a lease, optionally reporting progress (0-100) and a message')
      .argument('<id>', 'task id'),
  )
    .option('--lease-ms <ms>', 'renew by this much (default: the lease\'s own duration)', number)
    .option('--progress <percent>', 'progress, 0-100 (kept at its maximum)', number)
    .option('--message <text>', 'a note for whoever takes over')
    .addHelpText('after', examples('leasehold heartbeat fix-login --owner agent-7 --epoch 1 --progress 40 --message "tests written"'))
    .action(async (id: string, o: { owner: string; epoch: number; leaseMs?: number; progress?: number; message?: string }) => {
      const lease = await on((sup) => sup.heartbeat(id, o));
      print(lease, opts().json, () => leaseLines(lease));
    });

  ownerOptions(cli.command('extend').description('make sure the lease lasts at least WINDOW from now (never shortens)').argument('<id>', 'task id'))
    .requiredOption('--window-ms <ms>', 'the window from now', number)
    .addHelpText('after', examples('leasehold extend fix-login --owner agent-7 --epoch 1 --window-ms 600000'))
    .action(async (id: string, o: { owner: string; epoch: number; windowMs: number }) => {
      const lease = await on((sup) => sup.extend(id, o));
      print(lease, opts().json, () => leaseLines(lease));
    });

  ownerOptions(cli.command('add-compensation').description('register an undo step, run newest first if the task fails').argument('<id>', 'task id'))
    .requiredOption('--action <action>', 'the compensator name')
    .option('--args <json>', 'arguments for the compensator, as JSON', json)
    .addHelpText('after', examples('leasehold add-compensation fix-login --owner agent-7 --epoch 1 --action delete-branch --args \'{"branch":"agent/login"}\''))
    .action(async (id: string, o: { owner: string; epoch: number; action: string; args?: Json }) => {
      const task = await on((sup) => sup.addCompensation(id, o));
      print(task, opts().json, () => taskLine(task));
    });

  ownerOptions(cli.command('complete').description('finish the task (also a stale lease, until it is re-granted)').argument('<id>', 'task id'))
    .option('--result <json>', 'the result, as JSON', json)
    .addHelpText('after', examples('leasehold complete fix-login --owner agent-7 --epoch 1 --result \'{"pr":42}\''))
    .action(async (id: string, o: { owner: string; epoch: number; result?: Json }) => {
      const task = await on((sup) => sup.complete(id, o));
      print(task, opts().json, () => taskLine(task));
    });

  ownerOptions(
    cli
      .command('fail')
      .description('fail the task: retried after a backoff if --retryable and attempts remain, else its compensations run')
      .argument('<id>', 'task id'),
  )
    .requiredOption('--error <text>', 'what went wrong')
    .option('--retryable', 'the failure is transient', false)
    .addHelpText(
      'after',
      `${examples('leasehold fail fix-login --owner agent-7 --epoch 1 --error "CI is down" --retryable')}\n\n` +
        'The CLI runs no compensators: a failed task keeps its compensations pending for the next\nsupervisor that has them.',
    )
    .action(async (id: string, o: { owner: string; epoch: number; error: string; retryable: boolean }) => {
      const task = await on((sup) => sup.fail(id, o));
      print(task, opts().json, () => taskLine(task));
    });

  ownerOptions(cli.command('release').description('hand the task back to planned, with a hand-off for the next owner').argument('<id>', 'task id'))
    .option('--reason <text>', 'why')
    .addHelpText('after', examples('leasehold release fix-login --owner agent-7 --epoch 1 --reason "out of budget"'))
    .action(async (id: string, o: { owner: string; epoch: number; reason?: string }) => {
      const task = await on((sup) => sup.release(id, o));
      print(task, opts().json, () => taskLine(task));
    });

  cli
    .command('quarantine')
    .description('operator kill switch: end a task that must not run again')
    .argument('<id>', 'task id')
    .requiredOption('--by <who>', 'who quarantines it')
    .requiredOption('--reason <text>', 'why')
    .addHelpText('after', examples('leasehold quarantine fix-login --by ops --reason "crashes every agent"'))
    .action(async (id: string, o: { by: string; reason: string }) => {
      const task = await on((sup) => sup.quarantine(id, o));
      print(task, opts().json, () => taskLine(task));
    });

  cli
    .command('annotate')
    .description('merge metadata into a task (allowed on terminal tasks too)')
    .argument('<id>', 'task id')
    .argument('<key=value...>', 'metadata; values are read as JSON when they parse, else as text')
    .addHelpText('after', examples('leasehold annotate fix-login ticket=OPS-12 reviewed=true'))
    .action(async (id: string, pairs: string[]) => {
      const metadata = Object.fromEntries(pairs.map(metadataPair));
      const task = await on((sup) => sup.annotate(id, metadata));
      print(task, opts().json, () => taskLine(task));
    });

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
      const live = (await read()).tasks.find((task) => task.id === id);
      const task = live ?? (await archivedTask(archive, id));
      if (!task) throw new LeaseholdError('TASK_NOT_FOUND', `task "${id}" does not exist`, { taskId: id });
      print(task, opts().json, () => [...showLines(task), ...(live ? [] : [`archived in ${archive}`])]);
    });

  cli
    .command('stats')
    .description('count tasks by state')
    .action(async () => {
      const now = systemClock().now();
      const stats = statsOfTasks((await readTasks(opts().store, now)).tasks, now);
      print(stats, opts().json, () => [
        counted(stats.total, 'task'),
        ...Object.entries(stats.byState).map(([state, n]) => `  ${state.padEnd(12)} ${n}`),
        ...(stats.overdue > 0 ? [`${stats.overdue} overdue (a deadline passed, not yet processed: a supervisor acts on it when it runs)`] : []),
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
      new Option('--detail <detail>', 'compact folds rejections into one line per state; full draws each one').choices(['compact', 'full']).default('compact'),
    )
    .option('--live', 'annotate with the tasks in the store (implied by an explicit --store)', false)
    .option('-o, --out <file>', 'write to this file instead of stdout')
    .addHelpText(
      'after',
      examples(
        'leasehold diagram                                   # task lifecycle, Mermaid',
        'leasehold diagram --machine supervisor --format dot',
        'leasehold diagram --store .leasehold/store.json --format svg --out live.svg',
        'leasehold diagram --format stately > task.machine.stately.ts   # for Stately Studio "Import from code"',
      ),
    )
    .action(async (o: { machine: MachineName; format: 'mermaid' | 'dot' | 'svg' | 'stately'; detail: Detail; live: boolean; out?: string }) => {
      const live = o.live || cli.getOptionValueSource('store') === 'cli';
      const machine = MACHINES[o.machine];
      if (live && o.machine !== 'task') throw new LeaseholdError('INVALID_INPUT', 'the live view draws the task lifecycle: use --machine task');
      if (live && o.format === 'stately') throw new LeaseholdError('INVALID_INPUT', '--format stately exports the machine definition and has no live view');
      let text: string;
      if (o.format === 'stately') {
        text = toStately(machine);
      } else {
        const graph = machineGraph(machine);
        let occupancy;
        let caption: string | undefined;
        if (live) {
          const now = systemClock().now();
          const { tasks } = await readTasks(opts().store, now);
          occupancy = occupancyOf(tasks);
          caption = `live: ${counted(tasks.length, 'task')} in ${opts().store} at ${iso(now)}`;
        }
        const options = { detail: o.detail, ...(occupancy && { occupancy }) };
        if (o.format === 'mermaid') text = toMermaid(graph, { ...options, ...(caption && { caption }) });
        else {
          const dot = toDot(graph, { ...options, ...(caption && { caption: [caption] }) });
          text = o.format === 'dot' ? dot : await renderSvg(dot);
        }
      }
      emit(text, o.out, { machine: o.machine, format: o.format, detail: o.detail, live });
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

  addServiceCommands(cli, opts);
  addMcpCommand(cli, opts);

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

  return cli;
}

export async function run(argv: string[]): Promise<number> {
  const cli = program();
  // The subcommand being parsed, for the usage hint ("leasehold claim --help").
  let command: string | undefined;
  cli.hook('preSubcommand', (_, sub) => {
    command = sub.name();
  });
  try {
    await cli.parseAsync(argv);
    return 0;
  } catch (error) {
    // --json counts once commander has read it: `leasehold --json list --bogus` answers in
    // JSON; after an unknown option commander reads no further options of that command.
    return reportError(error, { json: cli.opts<{ json?: boolean }>().json === true, command });
  }
}

process.exitCode = await run(process.argv);
