#!/usr/bin/env node
// The `leasehold` command: drive and inspect a store from the shell. The global options, the
// commands that change tasks, and how an error ends the process are here; the reading commands
// are in reading-commands.ts, the service's in service.ts. A command that changes tasks goes
// through the daemon serving the store when there is one (its API, through the typed client),
// else through a supervisor of its own that takes the store's lock like any other and never
// writes around it (remote.ts); a store held by a process that serves nothing is reported
// plainly. The CLI registers no compensators: compensations of a task failed here stay
// pending, their attempt recorded as started, for the next supervisor that has them.
import { Command, Option } from 'commander';
import type { Json } from '../index.js';
import { PRIORITIES } from '../../machines/task.types.js';
import { collect, compensationSpec, examples, json, metadataPair, number, type GlobalOptions } from './arguments.js';
import { EXIT_CODES } from './exit-codes.js';
import { leaseLines, print, reportError, taskLine } from './output.js';
import { addMcpCommand } from './mcp.js';
import { addReadingCommands } from './reading-commands.js';
import { withWriter, type Reach, type Writer } from './remote.js';
import { addServiceCommands } from './service.js';
import { DEFAULT_STATE_DIR } from './store-target.js';
import { packageVersion } from './version.js';

export { EXIT_CODES };

const DEFAULT_STORE = '.leasehold/store.json';
/**
 * How long a command waits for a store another process holds. A command holds the store for
 * well under a second, so concurrent commands take their turns within it; a store held by an
 * orchestrator stays held, and 5 s is as long as a person should wait to be told so.
 */
const DEFAULT_WAIT_MS = 5_000;

/**
 * `--owner`: required, unless LEASEHOLD_TOKEN is set: an agent's token acts as its owner
 * through a daemon (another owner is FORBIDDEN); without one the supervisor asks for it.
 */
const ownerOption = (command: Command, description: string) =>
  process.env.LEASEHOLD_TOKEN
    ? command.option('--owner <owner>', `${description} (default: LEASEHOLD_TOKEN's agent)`)
    : command.requiredOption('--owner <owner>', description);

const ownerOptions = (command: Command) =>
  ownerOption(command, 'the lease holder').requiredOption('--epoch <n>', "the lease's epoch (fencing token)", number);

export function program(): Command {
  const cli = new Command('leasehold')
    .description(
      'Durable task leases and sagas: create, claim, heartbeat and finish tasks in a leasehold store, ' +
        "inspect it, and draw the lifecycle (live, with current task counts) or one task's trace.",
    )
    .addOption(new Option('--store <file|url>', 'the JSON store file, or a PostgreSQL store: postgres://user:password@host:port/database#schema').default(DEFAULT_STORE))
    .addOption(new Option('--state-dir <dir>', "where a PostgreSQL store's daemon file lives on this host (its tokens are in the database)").default(DEFAULT_STATE_DIR))
    .option('--json', 'print JSON instead of readable lines', false)
    .addOption(new Option('--url <url>', 'a daemon to go through (default: the one serving --store, from its daemon file); token from LEASEHOLD_TOKEN').env('LEASEHOLD_URL'))
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
  11 unauthorized (daemon token), 12 forbidden, 13 agent not found, 14 duplicate agent,
  15 unavailable (the daemon did not answer; a write may have landed: look before repeating it),
  16 not the leader (a standby daemon answered).

While a daemon serves the store (leasehold serve, or serve() in an orchestrator), commands that
change tasks go through its API: found from <store>.daemon.json (as the admin; as an agent with
LEASEHOLD_TOKEN), or given with --url / LEASEHOLD_URL and LEASEHOLD_TOKEN.
Errors go to stderr as "leasehold: CODE: message", or with --json as
{"error":{"code","reason"?,"message","issues"?}}; stdout stays empty.`,
    );

  const opts = () => cli.opts<GlobalOptions>();
  const reach = (): Reach => ({
    ...opts(),
    storeGiven: cli.getOptionValueSource('store') === 'cli',
    ...(process.env.LEASEHOLD_TOKEN !== undefined && { token: process.env.LEASEHOLD_TOKEN }),
  });
  /** A command that changes tasks: through a daemon when one serves the store, else under the store's lock. */
  const on = <T>(use: (writer: Writer) => Promise<T>) => withWriter(reach(), use);

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
        const task = await on((writer) => writer.create(input));
        print(task, opts().json, () => taskLine(task));
      },
    );

  ownerOption(cli.command('claim').description('lease one task; prints the lease (remember its epoch)').argument('<id>', 'task id'), 'who takes the lease')
    .option('--lease-ms <ms>', 'lease duration (default: the task\'s)', number)
    .addHelpText('after', examples('leasehold claim fix-login --owner agent-7', 'leasehold --json claim fix-login --owner agent-7 --lease-ms 120000'))
    .action(async (id: string, o: { owner?: string; leaseMs?: number }) => {
      const lease = await on((writer) => writer.claim(id, { owner: o.owner, ...(o.leaseMs !== undefined && { leaseMs: o.leaseMs }) }));
      print(lease, opts().json, () => leaseLines(lease));
    });

  ownerOption(
    cli.command('claim-next').description('lease the highest-priority, oldest claimable task; prints the lease, or null when none'),
    'who takes the lease',
  )
    .option('--lease-ms <ms>', 'lease duration (default: the task\'s)', number)
    .option('--label <label>', 'only tasks with this label (repeatable)', collect)
    .addHelpText('after', examples('leasehold --json claim-next --owner agent-7 --label backend'))
    .action(async (o: { owner?: string; leaseMs?: number; label?: string[] }) => {
      const lease = await on((writer) =>
        writer.claimNext({ owner: o.owner, ...(o.leaseMs !== undefined && { leaseMs: o.leaseMs }), ...(o.label && { labels: o.label }) }),
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
    .action(async (id: string, o: { owner?: string; epoch: number; leaseMs?: number; progress?: number; message?: string }) => {
      const lease = await on((writer) => writer.heartbeat(id, o));
      print(lease, opts().json, () => leaseLines(lease));
    });

  ownerOptions(cli.command('extend').description('make sure the lease lasts at least WINDOW from now (never shortens)').argument('<id>', 'task id'))
    .requiredOption('--window-ms <ms>', 'the window from now', number)
    .addHelpText('after', examples('leasehold extend fix-login --owner agent-7 --epoch 1 --window-ms 600000'))
    .action(async (id: string, o: { owner?: string; epoch: number; windowMs: number }) => {
      const lease = await on((writer) => writer.extend(id, o));
      print(lease, opts().json, () => leaseLines(lease));
    });

  ownerOptions(cli.command('add-compensation').description('register an undo step, run newest first if the task fails').argument('<id>', 'task id'))
    .requiredOption('--action <action>', 'the compensator name')
    .option('--args <json>', 'arguments for the compensator, as JSON', json)
    .addHelpText('after', examples('leasehold add-compensation fix-login --owner agent-7 --epoch 1 --action delete-branch --args \'{"branch":"agent/login"}\''))
    .action(async (id: string, o: { owner?: string; epoch: number; action: string; args?: Json }) => {
      const task = await on((writer) => writer.addCompensation(id, o));
      print(task, opts().json, () => taskLine(task));
    });

  ownerOptions(cli.command('complete').description('finish the task (also a stale lease, until it is re-granted)').argument('<id>', 'task id'))
    .option('--result <json>', 'the result, as JSON', json)
    .addHelpText('after', examples('leasehold complete fix-login --owner agent-7 --epoch 1 --result \'{"pr":42}\''))
    .action(async (id: string, o: { owner?: string; epoch: number; result?: Json }) => {
      const task = await on((writer) => writer.complete(id, o));
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
    .action(async (id: string, o: { owner?: string; epoch: number; error: string; retryable: boolean }) => {
      const task = await on((writer) => writer.fail(id, o));
      print(task, opts().json, () => taskLine(task));
    });

  ownerOptions(cli.command('release').description('hand the task back to planned, with a hand-off for the next owner').argument('<id>', 'task id'))
    .option('--reason <text>', 'why')
    .addHelpText('after', examples('leasehold release fix-login --owner agent-7 --epoch 1 --reason "out of budget"'))
    .action(async (id: string, o: { owner?: string; epoch: number; reason?: string }) => {
      const task = await on((writer) => writer.release(id, o));
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
      const task = await on((writer) => writer.quarantine(id, o));
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
      const task = await on((writer) => writer.annotate(id, metadata));
      print(task, opts().json, () => taskLine(task));
    });

  addReadingCommands(cli, opts, reach);
  addServiceCommands(cli, opts);
  addMcpCommand(cli, opts);

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
