// The client-side history of the failover and pause trials (issue 15) and its checks: every
// call the load made, when it was sent and answered (the wall clock, which the daemons on this
// host share), and its outcome — acknowledged with a value, refused with a code, or lost (no
// answer: it may or may not have landed). Checked against the store as a supervisor opening it
// afterwards reads it: no acknowledged call lost, no epoch granted twice, epochs strictly
// growing per task in real time, and no two acknowledged leases of a task held at once.
import type { Json, Lease, TaskView } from '../../src/index.js';
import { sameJson } from './support.js';

/** `unsent`: no server could be reached, so nothing landed; `lost`: sent, no answer — it may or may not have landed. */
export type Outcome = { kind: 'ack'; value: unknown } | { kind: 'refused'; code: string; reason?: string } | { kind: 'unsent' } | { kind: 'lost' };

export type Op = 'create' | 'claimNext' | 'heartbeat' | 'complete' | 'fail' | 'release';

export interface CallRecord {
  /** Who called: an agent's owner name, or `admin`. */
  by: string;
  op: Op;
  /** The task called on ('' for claimNext). */
  task: string;
  input: { epoch?: number; progress?: number; spec?: Json; result?: Json; retryable?: boolean; leaseMs?: number };
  /** Date.now() just before the call was made, and when its outcome was known. */
  sentAt: number;
  answeredAt: number;
  outcome: Outcome;
}

/** What is known about one acknowledged lease from the calls that were answered. */
interface Held {
  task: string;
  epoch: number;
  owner: string;
  acquiredAt: number;
  /** The claim's call (client times). */
  claimSentAt: number;
  claimAnsweredAt: number;
  /** The lease surely still held then (server time of the latest acknowledged grant or renewal, or of an acknowledged end's sending). */
  heldAtLeastUntil: number;
  /** The latest acknowledged expiry. */
  expiresAt: number;
  /** An end call (complete, fail, release) was acknowledged, or may have landed (lost). */
  ended: boolean;
}

const leaseOf = (call: CallRecord): Lease | undefined =>
  call.outcome.kind === 'ack' && (call.op === 'claimNext' || call.op === 'heartbeat') ? ((call.outcome.value as Lease | null) ?? undefined) : undefined;

const isEnd = (op: Op) => op === 'complete' || op === 'fail' || op === 'release';

/**
 * Every acknowledged call is reflected in `final` (the tasks a supervisor opening the store
 * afterwards lists): creates with their spec, claims' epochs, heartbeats' progress, completes
 * with their result, failures and releases no longer holding the lease. Returns the violations.
 */
export function lostAcknowledgements(calls: CallRecord[], final: TaskView[]): string[] {
  const byId = new Map(final.map((t) => [t.id, t]));
  const problems: string[] = [];
  const holds = (t: TaskView, epoch: number) => (t.state === 'leased' || t.state === 'stale') && t.lease?.epoch === epoch;
  for (const call of calls) {
    if (call.outcome.kind !== 'ack') continue;
    const lease = leaseOf(call);
    const id = lease?.taskId ?? call.task;
    if (call.op === 'claimNext' && !lease) continue;
    const where = `acknowledged ${call.op} of ${id} by ${call.by} (sent at ${call.sentAt})`;
    const task = byId.get(id);
    if (!task) {
      problems.push(`${where}: the task is not in the store`);
      continue;
    }
    const epoch = lease?.epoch ?? call.input.epoch ?? 0;
    switch (call.op) {
      case 'create':
        if (!sameJson(task.spec, call.input.spec)) problems.push(`${where}: spec ${JSON.stringify(task.spec)}`);
        break;
      case 'claimNext':
      case 'heartbeat':
        if (task.epoch < epoch) problems.push(`${where}: the store is at epoch ${task.epoch}, below the acknowledged ${epoch}`);
        if (call.op === 'heartbeat' && task.progress < (call.input.progress ?? 0)) problems.push(`${where}: progress ${task.progress} < ${call.input.progress}`);
        break;
      case 'complete':
        if (task.state !== 'completed' || !sameJson(task.terminal?.result, call.input.result)) {
          problems.push(`${where}: the task is ${task.substate} with ${JSON.stringify(task.terminal?.result)}`);
        }
        break;
      case 'fail':
      case 'release':
        if (holds(task, epoch)) problems.push(`${where}: the lease of epoch ${epoch} is still held`);
        if (call.op === 'fail' && call.input.retryable === false && !['failed', 'compensated', 'quarantined'].includes(task.state)) {
          problems.push(`${where}: the task is ${task.substate}`);
        }
        break;
    }
  }
  return problems;
}

/** Every acknowledged lease, by task, in epoch order; violations of "one grant per epoch" on the way. */
function leasesOf(calls: CallRecord[], problems: string[]): Map<string, Held[]> {
  const byTask = new Map<string, Map<number, Held>>();
  for (const call of calls) {
    const lease = leaseOf(call);
    if (!lease) continue;
    const leases = byTask.get(lease.taskId) ?? new Map<number, Held>();
    byTask.set(lease.taskId, leases);
    const known = leases.get(lease.epoch);
    if (known && (known.owner !== lease.owner || known.acquiredAt !== lease.acquiredAt)) {
      problems.push(`task ${lease.taskId}: epoch ${lease.epoch} acknowledged to ${known.owner} (at ${known.acquiredAt}) and to ${lease.owner} (at ${lease.acquiredAt})`);
      continue;
    }
    if (!known && call.op === 'heartbeat') problems.push(`task ${lease.taskId}: a heartbeat acknowledged epoch ${lease.epoch}, which no acknowledged claim granted`);
    const held = known ?? {
      task: lease.taskId,
      epoch: lease.epoch,
      owner: lease.owner,
      acquiredAt: lease.acquiredAt,
      claimSentAt: call.sentAt,
      claimAnsweredAt: call.answeredAt,
      heldAtLeastUntil: lease.acquiredAt,
      expiresAt: lease.expiresAt,
      ended: false,
    };
    held.heldAtLeastUntil = Math.max(held.heldAtLeastUntil, lease.heartbeatAt, lease.acquiredAt);
    held.expiresAt = Math.max(held.expiresAt, lease.expiresAt);
    leases.set(lease.epoch, held);
  }
  // An acknowledged end was processed after it was sent, with the lease still this owner's.
  for (const call of calls) {
    if (!isEnd(call.op) || call.outcome.kind === 'refused' || call.outcome.kind === 'unsent') continue;
    const held = byTask.get(call.task)?.get(call.input.epoch ?? -1);
    if (!held) continue;
    held.ended = true;
    if (call.outcome.kind === 'ack') held.heldAtLeastUntil = Math.max(held.heldAtLeastUntil, call.sentAt);
  }
  return new Map([...byTask].map(([task, leases]) => [task, [...leases.values()].sort((a, b) => a.epoch - b.epoch)]));
}

/**
 * No double owner: no epoch acknowledged to two owners; of two acknowledged claims on a task,
 * the one sent after the other was answered has the larger epoch (across takeovers too); and
 * each acknowledged lease began only after every earlier one was surely over — after its last
 * acknowledged grant, renewal or end call's sending, and, unless it was ended, after its latest
 * acknowledged expiry. Returns the violations.
 */
export function doubleOwners(calls: CallRecord[]): string[] {
  const problems: string[] = [];
  const byTask = leasesOf(calls, problems);
  for (const [task, leases] of byTask) {
    for (const [i, later] of leases.entries()) {
      for (const earlier of leases.slice(0, i)) {
        const reason =
          later.acquiredAt < earlier.heldAtLeastUntil
            ? `granted at ${later.acquiredAt}, while epoch ${earlier.epoch} was still held at ${earlier.heldAtLeastUntil}`
            : !earlier.ended && later.acquiredAt < earlier.expiresAt
              ? `granted at ${later.acquiredAt}, before epoch ${earlier.epoch} (never ended) expired at ${earlier.expiresAt}`
              : undefined;
        if (reason) problems.push(`task ${task} had two owners: epoch ${later.epoch} (${later.owner}) ${reason} (${earlier.owner})`);
      }
    }
    // Real-time order: a claim sent after another was answered must carry a larger epoch.
    for (const a of leases) {
      for (const b of leases) {
        if (a.claimAnsweredAt < b.claimSentAt && b.epoch <= a.epoch) {
          problems.push(`task ${task}: epoch ${b.epoch} (${b.owner}) was claimed after epoch ${a.epoch} (${a.owner}) was acknowledged, yet is not larger`);
        }
      }
    }
  }
  return problems;
}

/** Counts for the trial's printed summary. */
export function tally(calls: CallRecord[]): { acked: number; refused: number; unsent: number; lost: number; leases: number; reclaimed: number } {
  const count = (kind: Outcome['kind']) => calls.filter((c) => c.outcome.kind === kind).length;
  const leases = calls.filter((c) => c.op === 'claimNext').flatMap((c) => leaseOf(c) ?? []);
  return { acked: count('ack'), refused: count('refused'), unsent: count('unsent'), lost: count('lost'), leases: leases.length, reclaimed: leases.filter((l) => l.epoch > 1).length };
}
