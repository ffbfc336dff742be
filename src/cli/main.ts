#!/usr/bin/env node
// The `leasehold` command: inspect a store from the shell. It opens the store through a
// supervisor, so it takes the store's lock like any other supervisor and never writes
// around it; a store held by another process is reported plainly.
import { Command, Option } from 'commander';
import { createSupervisor, jsonFileStore, LeaseholdError, TASK_STATES, type Supervisor, type TaskView } from '../index.js';

/** One exit code per error class, so scripts can tell them apart. */
export const EXIT_CODES: Record<string, number> = {
  INVALID_INPUT: 2,
  TASK_NOT_FOUND: 3,
  DUPLICATE_TASK: 4,
  LEASE_CONFLICT: 5,
  TERMINAL_TASK: 6,
  STORE_CORRUPT: 7,
  STORE_LOCKED: 8,
  STORE_WRITE_FAILED: 9,
  SUPERVISOR_CLOSED: 10,
};

const DEFAULT_STORE = '.leasehold/store.json';

async function withSupervisor<T>(file: string, use: (sup: Supervisor) => T | Promise<T>): Promise<T> {
  const sup = await createSupervisor({ store: jsonFileStore(file) });
  try {
    return await use(sup);
  } finally {
    await sup.close();
  }
}

const line = (task: TaskView) =>
  [
    task.id.padEnd(24),
    task.substate.padEnd(16),
    `epoch ${task.epoch}`.padEnd(9),
    task.lease ? `${task.lease.owner} until ${new Date(task.lease.expiresAt).toISOString()}` : '',
    task.progress > 0 ? `${task.progress}%` : '',
  ]
    .join(' ')
    .trimEnd();

function print(value: unknown, json: boolean, text: () => string) {
  process.stdout.write(`${json ? JSON.stringify(value, null, 2) : text()}\n`);
}

export function program(): Command {
  const cli = new Command('leasehold')
    .description('Durable task leases and sagas: inspect a leasehold store.')
    .addOption(new Option('--store <file>', 'the JSON store file').default(DEFAULT_STORE))
    .option('--json', 'print JSON instead of readable lines', false)
    .showHelpAfterError();

  cli
    .command('list')
    .description('list tasks, optionally only those in one state')
    .addOption(new Option('--state <state>', 'only tasks in this state').choices([...TASK_STATES]))
    .addHelpText('after', '\nExample:\n  leasehold list --state stale --store .leasehold/store.json')
    .action(async (options: { state?: TaskView['state'] }) => {
      const { store, json } = cli.opts<{ store: string; json: boolean }>();
      const tasks = await withSupervisor(store, (sup) => sup.list(options.state ? { state: options.state } : {}));
      print(tasks, json, () => (tasks.length === 0 ? '(no tasks)' : tasks.map(line).join('\n')));
    });

  cli
    .command('show')
    .description('show one task: state, lease, epochs, compensations, recovery hand-off, history')
    .argument('<id>', 'task id')
    .addHelpText('after', '\nExample:\n  leasehold show migrate-db --json')
    .action(async (id: string) => {
      const { store, json } = cli.opts<{ store: string; json: boolean }>();
      const task = await withSupervisor(store, (sup) => sup.get(id));
      if (!task) throw new LeaseholdError('TASK_NOT_FOUND', `task "${id}" does not exist`, { taskId: id });
      print(task, json, () =>
        [
          line(task),
          `attempts ${task.attempts}, expired ${task.staleCount} times, priority ${task.priority}`,
          ...task.compensations.map((c) => `  compensation #${c.seq} ${c.action}: ${c.status} (${c.attempts} attempts)`),
          ...(task.recovery ? [`  recovery: ${task.recovery.instructions}`] : []),
          ...(task.terminal ? [`  ended ${task.terminal.state}${task.terminal.reason ? `: ${task.terminal.reason}` : ''}`] : []),
          'history:',
          ...task.audit.map(
            (a) =>
              `  ${new Date(a.at).toISOString()} ${a.event}${a.owner ? ` ${a.owner}` : ''}${a.epoch ? `@${a.epoch}` : ''}${a.detail ? ` — ${a.detail}` : ''}`,
          ),
        ].join('\n'),
      );
    });

  cli
    .command('stats')
    .description('count tasks by state')
    .action(async () => {
      const { store, json } = cli.opts<{ store: string; json: boolean }>();
      const stats = await withSupervisor(store, (sup) => sup.stats());
      print(stats, json, () =>
        [`${stats.total} tasks`, ...Object.entries(stats.byState).map(([state, n]) => `  ${state.padEnd(12)} ${n}`)].join('\n'),
      );
    });

  return cli;
}

export async function run(argv: string[]): Promise<number> {
  try {
    await program().parseAsync(argv);
    return 0;
  } catch (error) {
    if (error instanceof LeaseholdError) {
      process.stderr.write(`leasehold: ${error.code}: ${error.message}\n`);
      return EXIT_CODES[error.code] ?? 1;
    }
    process.stderr.write(`leasehold: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

process.exitCode = await run(process.argv);
