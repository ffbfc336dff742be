// `npm run demo`: the orchestrator's story, told with real processes. This process embeds one
// supervisor on .leasehold/demo.json and serves it on loopback (`serve()`, daemon.ts); a dozen
// tasks go to agents that are separate child processes (agents.ts, agent.ts), each with its own
// token, talking to the daemon through the typed client — and one of them through MCP. Short
// leases on the real clock: one agent finishes, one is killed mid-task and its task is
// reclaimed with the recovery hand-off, one is slow and survives on a late heartbeat, one fails
// and its compensations run, one poison task ends quarantined, and the supervisor and its server
// restart half-way while agents work (they wait it out and look before repeating a write). A
// second act shows adaptive leases: a progressive policy that lengthens the lease as the agent
// gets closer to done, and grace extended while a real git merge conflict is open.
import { mkdirSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Supervisor } from '../index.js';
import { statsLine } from '../stats/line.js';
import { startAgent, type AgentProcess } from './agents.js';
import { closeDaemon, freshStore, mintAgentToken, openDaemon, restartDaemon, undone, type Daemon } from './daemon.js';
import { conflictedRepo, git } from './git-repos.js';
import { SCALED_PROGRESSIVE } from './timing.js';

const dir = join(process.cwd(), '.leasehold');
const file = join(dir, 'demo.json');
const worktree = join(dir, 'demo-worktree');

const started = performance.now();
const say = (line: string) => console.log(`${((performance.now() - started) / 1000).toFixed(2).padStart(6)}s  ${line}`);

function narrate(sup: Supervisor) {
  sup.on('expired', (e) => say(`  ⏰ ${e.taskId}: lease of ${e.owner} (epoch ${e.epoch}) expired; grace for ${e.graceEndsAt - e.at} ms`));
  sup.on('reclaimed', (e) => say(`  ↪ ${e.taskId}: reclaimed by ${e.owner} (epoch ${e.epoch}) from ${e.previousOwner} (epoch ${e.previousEpoch})`));
  sup.on('compensated', (e) => say(`  ↩ ${e.taskId}: every compensation ran → compensated`));
  sup.on('quarantined', (e) => say(`  ☣ ${e.taskId}: quarantined — ${e.reason}`));
  sup.on('graceExtended', (e) => say(`  ⏳ ${e.taskId}: grace extended +${e.extendMs} ms for ${e.owner} (${e.reason})`));
}

/** Who plays which part (behaviours.ts; `mcp`: mcp-agent.ts), and the task the part is sent for. */
const CAST = {
  mallory: ['crashOnClaim'],
  ada: ['finish'],
  bob: ['crashAfterReport'],
  eve: ['fail'],
  dee: ['slow'],
  trent: ['crashOnKnown', 'poison'],
  cy: ['mcp', 'migrate-db'],
  w1: ['drain'],
  w2: ['drain'],
  w3: ['drain'],
  eli: ['progressive', 'long-refactor'],
  fay: ['mergeConflict', 'rebase-api'],
} satisfies Record<string, [part: string, taskId?: string]>;
type Cast = Record<keyof typeof CAST, AgentProcess>;

/** Starts every agent process at once (each with a token of its own) and waits until all are ready. */
async function startCast(daemon: Daemon): Promise<Cast> {
  const cast: Partial<Cast> = {};
  for (const [name, [part, taskId]] of Object.entries(CAST) as [keyof Cast, [string, string?]][]) {
    const token = await mintAgentToken(daemon, name);
    cast[name] = startAgent(name, [part, name, ...(taskId ? [taskId] : [])], { url: daemon.server.url, token }, say);
  }
  await Promise.all(Object.values(cast).map((agent) => agent.signalled('ready')));
  return cast as Cast;
}

/** A crash: the agent's process ends by SIGKILL, holding its lease. */
async function crashed(agent: AgentProcess) {
  const signal = await agent.exited;
  say(`☠ ${agent.name}'s process died (${signal ?? 'exit'}) without a word, still holding its lease`);
}

/** Act two: leases that adapt to the agent. */
async function adaptiveLeases(sup: Supervisor, { eli, fay }: Cast) {
  say('— adaptive leases —');
  await sup.create({ id: 'long-refactor', policy: SCALED_PROGRESSIVE, spec: { worktree: 'wt/refactor' } });
  eli.go();
  await eli.exited;

  if (git(dir, '--version').status !== 0) return say('(git is not installed: skipping the merge-conflict extension)');
  rmSync(worktree, { recursive: true, force: true });
  conflictedRepo(worktree);
  await sup.create({ id: 'rebase-api', spec: { worktree, branch: 'main' } });
  fay.go();
  await fay.exited;
}

/** Resolves when `taskId` is quarantined (it may already be). */
const quarantined = (sup: Supervisor, taskId: string) =>
  new Promise<void>((resolve) => {
    if (sup.get(taskId)?.state === 'quarantined') return resolve();
    sup.on('quarantined', (e) => e.taskId === taskId && resolve());
  });

async function main() {
  mkdirSync(dir, { recursive: true });
  freshStore(file);
  let daemon = await openDaemon(file, 0, undefined, narrate);
  say(`supervisor open on ${relative(process.cwd(), file)}, served at ${daemon.server.url}`);
  const { sup } = daemon;

  await sup.create({ id: 'poison', priority: 'critical', spec: { note: 'crashes every agent that touches it' }, maxStale: 2 });
  await sup.create({ id: 'refactor-auth', priority: 'high', spec: { worktree: 'wt/auth', branch: 'agent/auth' } });
  await sup.create({ id: 'migrate-db', priority: 'high', spec: { worktree: 'wt/db', branch: 'agent/db' } });
  await sup.create({ id: 'flaky-deploy', priority: 'high', compensations: [{ action: 'delete-branch', args: { branch: 'agent/deploy' } }] });
  await sup.create({ id: 'write-docs', priority: 'medium', labels: ['docs'] });
  for (let i = 1; i <= 7; i++) await sup.create({ id: `chore-${i}`, priority: 'low', labels: ['chore'] });
  say(`created ${sup.list().length} tasks`);

  const cast = await startCast(daemon);
  say(`${Object.keys(cast).length} agent processes ready, each with its own token (one speaks MCP)`);
  const { mallory, ada, bob, eve, dee, trent, cy, w1, w2, w3 } = cast;

  // One at a time, so each takes the next task by priority: poison, refactor-auth, migrate-db, …
  mallory.go();
  await crashed(mallory);
  ada.go();
  await ada.signalled('claimed');
  bob.go();
  await crashed(bob);
  eve.go();
  await eve.exited;
  dee.go();
  await Promise.all([dee.signalled('late'), ada.exited]);

  say('— restarting the supervisor and its server (same file, same port, 500 ms down); the agents wait it out —');
  daemon = await restartDaemon(daemon, file, 500, narrate);
  say(`reopened: ${daemon.sup.list().length} tasks, timers re-armed from stored deadlines`);

  // trent and cy wait out what is left of the poison's and bob's grace; then three workers drain.
  trent.go();
  await crashed(trent);
  cy.go();
  await cy.signalled('claimed');
  for (const worker of [w1, w2, w3]) worker.go();
  await Promise.all([w1, w2, w3, dee, cy].map((agent) => agent.exited));
  await quarantined(daemon.sup, 'poison');
  await adaptiveLeases(daemon.sup, cast);

  console.log('\nCompensations run:', undone.join('; '));
  console.log('\nFinal state of every task:');
  const rows = daemon.sup.list().map((task) => ({
    task: task.id,
    state: task.substate,
    epoch: task.epoch,
    attempts: task.attempts,
    stale: task.staleCount,
    owners: task.audit
      .filter((a) => a.event === 'claimed' || a.event === 'reclaimed')
      .map((a) => `${a.owner}@${a.epoch}`)
      .join(' → '),
    end: task.terminal ? `${task.terminal.state}${task.terminal.reason ? `: ${task.terminal.reason}` : ''}` : '',
  }));
  console.table(rows);
  console.log('\nStats since the restart (sup.stats()):');
  console.log(statsLine(daemon.sup.stats()).replace('leasehold: ', '  '));
  await closeDaemon(daemon);
  say(`done; the store is ${relative(process.cwd(), file)}`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
