// `npm run demo`: the main job on the embedded default store. One supervisor on
// .leasehold/demo.json, a dozen tasks and a handful of simulated agents on the real clock
// (short leases so the story takes seconds): one finishes, one crashes silently and its task
// is reclaimed, one is slow and survives on a late heartbeat, one fails and its
// compensations run, one poison task ends quarantined, and the supervisor restarts half-way.
// A second act shows adaptive leases: a progressive policy that lengthens the lease as the
// agent gets closer to done, and grace extended while a real git merge conflict is open.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { createSupervisor, gitMergeConflictProbe, jsonFileStore, type Lease, type Supervisor, type SupervisorOptions } from '../index.js';
import { statsLine } from '../stats/line.js';
import { conflictedRepo, git, must } from './git-repos.js';

const LEASE_MS = 1200;
const GRACE_MS = 600;
const dir = join(process.cwd(), '.leasehold');
const file = join(dir, 'demo.json');
const worktree = join(dir, 'demo-worktree');
/** The progressive policy's phases, scaled from minutes to a demo's seconds (1 s ≙ 200 s). */
const SCALED_PROGRESSIVE = {
  kind: 'progressive',
  noReport: { leaseMs: 900, graceMs: 300 },
  firstReport: { leaseMs: 1200, graceMs: 300 },
  steps: [
    { atProgress: 25, leaseMs: 1500, graceMs: 300 },
    { atProgress: 75, leaseMs: 1800, graceMs: 450 },
  ],
  minLeaseMs: 100,
  maxLeaseMs: 10_000,
};

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const started = performance.now();
const say = (line: string) => console.log(`${((performance.now() - started) / 1000).toFixed(2).padStart(6)}s  ${line}`);

const undone: string[] = [];
const options: Omit<SupervisorOptions, 'store'> = {
  defaults: { leaseMs: LEASE_MS, graceMs: GRACE_MS, maxStale: 3, retryBackoffMs: 200, compensationBackoffMs: 100 },
  probes: [gitMergeConflictProbe({ extendMs: 1500, timeoutMs: 2000 })],
  compensators: {
    'delete-branch': async (args) => void undone.push(`deleted branch ${JSON.stringify(args)}`),
    'close-pr': async (args) => void undone.push(`closed PR ${JSON.stringify(args)}`),
  },
};

function narrate(sup: Supervisor) {
  sup.on('expired', (e) => say(`  ⏰ ${e.taskId}: lease of ${e.owner} (epoch ${e.epoch}) expired; grace for ${e.graceEndsAt - e.at} ms`));
  sup.on('reclaimed', (e) => say(`  ↪ ${e.taskId}: reclaimed by ${e.owner} (epoch ${e.epoch}) from ${e.previousOwner} (epoch ${e.previousEpoch})`));
  sup.on('compensated', (e) => say(`  ↩ ${e.taskId}: every compensation ran → compensated`));
  sup.on('quarantined', (e) => say(`  ☣ ${e.taskId}: quarantined — ${e.reason}`));
  sup.on('graceExtended', (e) => say(`  ⏳ ${e.taskId}: grace extended +${e.extendMs} ms for ${e.owner} (${e.reason})`));
}

/** Act two: leases that adapt to the agent. */
async function adaptiveLeases(sup: Supervisor) {
  say('— adaptive leases —');
  await sup.create({ id: 'long-refactor', policy: SCALED_PROGRESSIVE, spec: { worktree: 'wt/refactor' } });
  const eli = await sup.claim('long-refactor', { owner: 'eli' });
  say(`eli claimed long-refactor under the progressive policy: ${eli.leaseMs} ms before any report`);
  for (const progress of [10, 50, 80]) {
    await pause(300);
    const renewed = await sup.heartbeat('long-refactor', { owner: 'eli', epoch: eli.epoch, progress });
    say(`  eli at ${progress}% → lease renewed for ${renewed.expiresAt - renewed.heartbeatAt} ms, grace ${renewed.graceMs} ms`);
  }
  await sup.complete('long-refactor', { owner: 'eli', epoch: eli.epoch });
  say('✓ eli completed long-refactor');

  if (git(dir, '--version').status !== 0) return say('(git is not installed: skipping the merge-conflict extension)');
  rmSync(worktree, { recursive: true, force: true });
  conflictedRepo(worktree);
  await sup.create({ id: 'rebase-api', spec: { worktree, branch: 'main' } });
  const fay = await sup.claim('rebase-api', { owner: 'fay' });
  say(`fay claimed rebase-api and goes quiet resolving a merge conflict in ${relative(process.cwd(), worktree)}`);
  await pause(LEASE_MS + GRACE_MS + 600);
  writeFileSync(join(worktree, 'notes.txt'), 'main and feature\n');
  must(worktree, 'commit', '--quiet', '-am', 'merge feature');
  const back = await sup.heartbeat('rebase-api', { owner: 'fay', epoch: fay.epoch, progress: 90, message: 'conflict resolved' });
  say(`fay resolved the conflict and came back within the extended grace (epoch ${back.epoch} kept)`);
  await sup.complete('rebase-api', { owner: 'fay', epoch: fay.epoch });
  say('✓ fay completed rebase-api');
}

/** An agent that heartbeats every `beatMs` for `beats` beats, then completes. */
async function work(sup: Supervisor, lease: Lease, beats: number, beatMs = LEASE_MS / 3) {
  for (let i = 1; i <= beats; i++) {
    await pause(beatMs);
    await sup.heartbeat(lease.taskId, { owner: lease.owner, epoch: lease.epoch, progress: Math.round((100 * i) / (beats + 1)) });
  }
  await sup.complete(lease.taskId, { owner: lease.owner, epoch: lease.epoch, result: { by: lease.owner } });
  say(`✓ ${lease.owner} completed ${lease.taskId} (epoch ${lease.epoch})`);
}

async function main() {
  rmSync(file, { force: true });
  mkdirSync(dir, { recursive: true });
  let sup = await createSupervisor({ store: jsonFileStore(file), ...options });
  narrate(sup);
  say(`supervisor open on ${relative(process.cwd(), file)}`);

  await sup.create({ id: 'poison', priority: 'critical', spec: { note: 'crashes every agent that touches it' }, maxStale: 2 });
  await sup.create({ id: 'refactor-auth', priority: 'high', spec: { worktree: 'wt/auth', branch: 'agent/auth' } });
  await sup.create({ id: 'migrate-db', priority: 'high', spec: { worktree: 'wt/db', branch: 'agent/db' } });
  await sup.create({ id: 'flaky-deploy', priority: 'high', compensations: [{ action: 'delete-branch', args: { branch: 'agent/deploy' } }] });
  await sup.create({ id: 'write-docs', priority: 'medium', labels: ['docs'] });
  for (let i = 1; i <= 7; i++) await sup.create({ id: `chore-${i}`, priority: 'low', labels: ['chore'] });
  say(`created ${sup.list().length} tasks`);

  // mallory takes the poison task and dies; so will the next one.
  const poison1 = (await sup.claimNext({ owner: 'mallory' }))!;
  say(`☠ mallory claimed ${poison1.taskId} and crashed silently`);

  // ada finishes her task.
  const ada = (await sup.claimNext({ owner: 'ada' }))!;
  say(`ada claimed ${ada.taskId}`);
  const adaDone = work(sup, ada, 2);

  // bob crashes silently after one heartbeat on migrate-db.
  const bob = (await sup.claimNext({ owner: 'bob' }))!;
  say(`bob claimed ${bob.taskId}`);
  await sup.heartbeat(bob.taskId, { owner: 'bob', epoch: bob.epoch, progress: 40, message: 'schema written, data copy next' });
  say(`☠ bob reported 40% on ${bob.taskId} and crashed silently`);

  // eve registers her side effects and fails for good.
  const eve = (await sup.claimNext({ owner: 'eve' }))!;
  await sup.addCompensation(eve.taskId, { owner: 'eve', epoch: eve.epoch, action: 'close-pr', args: { pr: 42 } });
  say(`eve claimed ${eve.taskId}, opened PR #42`);

  // dee is slow: she goes quiet past her deadline and heartbeats during grace.
  const dee = (await sup.claimNext({ owner: 'dee' }))!;
  say(`dee claimed ${dee.taskId} and goes quiet`);

  await sup.fail(eve.taskId, { owner: 'eve', epoch: eve.epoch, error: 'deploy target unreachable' });
  say(`✗ eve failed ${eve.taskId}; compensations run newest first`);

  await pause(LEASE_MS + GRACE_MS / 4);
  const late = await sup.heartbeat(dee.taskId, { owner: 'dee', epoch: dee.epoch, progress: 60 });
  say(`dee's late heartbeat was accepted: lease renewed to +${late.expiresAt - late.heartbeatAt} ms (epoch ${late.epoch})`);
  await adaDone;

  say('— restarting the supervisor (close, reopen the same file) —');
  await sup.close();
  sup = await createSupervisor({ store: jsonFileStore(file), ...options });
  narrate(sup);
  say(`reopened: ${sup.list().length} tasks, timers re-armed from stored deadlines`);

  const deeDone = work(sup, dee, 1);

  // Wait for bob's lease and grace to run out, then cy takes over with the hand-off.
  await pause(GRACE_MS + 200);
  const poison2 = await sup.claim('poison', { owner: 'trent' });
  say(`☠ trent claimed poison (epoch ${poison2.epoch}) and crashed silently too`);
  const cy = await sup.claim('migrate-db', { owner: 'cy' });
  say(`cy got migrate-db with hand-off: "${cy.recovery?.instructions}"`);
  const cyDone = work(sup, cy, 1);

  // Three workers drain the chores and the docs.
  const drain = async (owner: string) => {
    for (let lease = await sup.claimNext({ owner }); lease; lease = await sup.claimNext({ owner })) {
      await work(sup, lease, 1, 50);
    }
  };
  await Promise.all([drain('w1'), drain('w2'), drain('w3'), deeDone, cyDone]);
  await pause(LEASE_MS + GRACE_MS + 100);
  await adaptiveLeases(sup);

  console.log('\nCompensations run:', undone.join('; '));
  console.log('\nFinal state of every task:');
  const rows = sup.list().map((task) => ({
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
  console.log(statsLine(sup.stats()).replace('leasehold: ', '  '));
  await sup.close();
  say(`done; the store is ${relative(process.cwd(), file)}`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
