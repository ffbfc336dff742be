// What each demo agent does, through the typed client (src/client): one function per part in
// the story, each reporting its actions as lines (channel.ts). A crash is a real one: the agent
// SIGKILLs its own process, with no release and no last word, and its lease simply runs out.
import { writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Client, Lease } from '../client/index.js';
import { must } from './git-repos.js';
import { report, signal } from './channel.js';
import { claimNext, write } from './settle.js';
import { GRACE_MS, LEASE_MS, pause } from './timing.js';

export interface Part {
  agent: Client;
  /** The agent's name: its token's owner. */
  name: string;
  /** The task it was sent for, for the parts that claim one by id. */
  taskId?: string;
}

const crash = (): never => {
  process.kill(process.pid, 'SIGKILL');
  throw new Error('unreachable');
};

const heartbeat = (agent: Client, lease: Lease, body: { progress: number; message?: string }) => {
  const sentAt = Date.now();
  return write(
    agent,
    lease.taskId,
    'heartbeat',
    () => agent.heartbeat(lease.taskId, { epoch: lease.epoch, ...body }),
    (task) => (task.lease?.epoch === lease.epoch && task.lease.heartbeatAt >= sentAt && task.progress === body.progress ? task.lease : undefined),
  );
};

const complete = (agent: Client, lease: Lease, result: { by: string }) =>
  write(
    agent,
    lease.taskId,
    'complete',
    () => agent.complete(lease.taskId, { epoch: lease.epoch, result }),
    (task) => (task.state === 'completed' && task.epoch === lease.epoch ? task : undefined),
  );

/** Claims `taskId` once it is free: a lease still held or in grace is waited out. */
async function claimWhenFree({ agent, name, taskId }: Part): Promise<Lease> {
  for (let tries = 0; ; tries++) {
    try {
      return await write(agent, taskId!, 'claim', () => agent.claim(taskId!), (task) => (task.lease?.owner === name ? task.lease : undefined));
    } catch (error) {
      const reason = (error as { reason?: string }).reason;
      if (tries > 50 || (reason !== 'held' && reason !== 'in_grace')) throw error;
      await pause(100);
    }
  }
}

/** Heartbeats every `beatMs` for `beats` beats, then completes. */
async function work(part: Part, lease: Lease, beats: number, beatMs = LEASE_MS / 3) {
  for (let i = 1; i <= beats; i++) {
    await pause(beatMs);
    await heartbeat(part.agent, lease, { progress: Math.round((100 * i) / (beats + 1)) });
  }
  await complete(part.agent, lease, { by: part.name });
  report(`✓ completed ${lease.taskId} (epoch ${lease.epoch})`);
}

async function next({ agent, name }: Part): Promise<Lease> {
  const lease = await claimNext(agent, name);
  if (!lease) throw new Error(`${name} found nothing to claim`);
  signal('claimed');
  return lease;
}

export const parts: Record<string, (part: Part) => Promise<void>> = {
  /** Takes the next task and dies on the spot. */
  async crashOnClaim(part) {
    report(`claimed ${(await next(part)).taskId}`);
    crash();
  },

  /** Takes a known task once it is free and dies on the spot. */
  async crashOnKnown(part) {
    const lease = await claimWhenFree(part);
    report(`claimed ${lease.taskId} (epoch ${lease.epoch})`);
    crash();
  },

  /** Reports progress and a note for whoever comes next, then dies. */
  async crashAfterReport(part) {
    const lease = await next(part);
    report(`claimed ${lease.taskId}`);
    await heartbeat(part.agent, lease, { progress: 40, message: 'schema written, data copy next' });
    report(`reported 40% on ${lease.taskId}`);
    crash();
  },

  async finish(part) {
    const lease = await next(part);
    report(`claimed ${lease.taskId}`);
    await work(part, lease, 2);
  },

  /** Registers a side effect's undo, then fails for good. */
  async fail({ agent, ...rest }) {
    const lease = await next({ agent, ...rest });
    await agent.addCompensation(lease.taskId, { epoch: lease.epoch, action: 'close-pr', args: { pr: 42 } });
    report(`claimed ${lease.taskId}, opened PR #42`);
    await agent.fail(lease.taskId, { epoch: lease.epoch, error: 'deploy target unreachable' });
    report(`✗ failed ${lease.taskId} (deploy target unreachable); its compensations run newest first`);
  },

  /** Goes quiet past the deadline, heartbeats during grace, then finishes across the restart. */
  async slow(part) {
    const lease = await next(part);
    report(`claimed ${lease.taskId} and goes quiet`);
    await pause(LEASE_MS + GRACE_MS / 4);
    const late = await heartbeat(part.agent, lease, { progress: 60 });
    report(`heartbeats late, in grace: accepted, lease renewed to +${late.expiresAt - late.heartbeatAt} ms (epoch ${late.epoch})`);
    signal('late');
    await work(part, lease, 2);
  },

  /** Takes tasks until none is left, each done in one beat. */
  async drain(part) {
    for (let lease = await claimNext(part.agent, part.name); lease; lease = await claimNext(part.agent, part.name)) {
      await work(part, lease, 1, 50);
    }
  },

  /** Act two: the progressive policy lengthens the lease as the agent reports progress. */
  async progressive(part) {
    const lease = await claimWhenFree(part);
    report(`claimed ${lease.taskId} under the progressive policy: ${lease.leaseMs} ms before any report`);
    for (const progress of [10, 50, 80]) {
      await pause(300);
      const renewed = await heartbeat(part.agent, lease, { progress });
      report(`at ${progress}% → lease renewed for ${renewed.expiresAt - renewed.heartbeatAt} ms, grace ${renewed.graceMs} ms`);
    }
    await complete(part.agent, lease, { by: part.name });
    report(`✓ completed ${lease.taskId}`);
  },

  /** Act two: quiet while a real merge conflict is open in the task's worktree; the git probe buys grace. */
  async mergeConflict(part) {
    const lease = await claimWhenFree(part);
    const worktree = ((await part.agent.get(lease.taskId))!.spec as { worktree: string }).worktree;
    report(`claimed ${lease.taskId} and goes quiet resolving a merge conflict in ${relative(process.cwd(), worktree)}`);
    await pause(LEASE_MS + GRACE_MS + 600);
    writeFileSync(join(worktree, 'notes.txt'), 'main and feature\n');
    must(worktree, 'commit', '--quiet', '-am', 'merge feature');
    const back = await heartbeat(part.agent, lease, { progress: 90, message: 'conflict resolved' });
    report(`resolved the conflict and came back within the extended grace (epoch ${back.epoch} kept)`);
    await complete(part.agent, lease, { by: part.name });
    report(`✓ completed ${lease.taskId}`);
  },
};
