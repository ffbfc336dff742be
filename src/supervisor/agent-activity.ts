// `sup.agents()`: what each owner holds and has done, read from the live tasks — their current
// leases and their audit (bounded per task, see AgentActivity) — in one pass, copying only
// the live leases answered.
import type { AuditEntry } from '../../machines/task.types.js';
import { leaseView, statePath, type TaskSnapshot } from '../task/view.js';
import type { AgentActivity } from './options.js';

/**
 * Audit entries that record a call the owner made. The others that name an owner are the
 * supervisor's doing (expired, grace-ended, grace-extended) or name the operator (quarantined).
 */
const OWN_CALLS = new Set([
  'claimed',
  'reclaimed',
  'heartbeat',
  'late-heartbeat',
  'late-progress',
  'extended',
  'released',
  'completed',
  'failed',
  'failed-retrying',
  'compensation-added',
]);

/** The states in which a lease is live: its holder may still heartbeat. */
const LIVE = new Set(['leased', 'stale.grace']);

/**
 * Who held the lease a `reclaimed` entry took over, read from the audit's structure rather
 * than the entry's text: each claim's epoch is one above the one before, so the previous lease
 * is epoch − 1, and every entry of an epoch names that claim's one holder. A task is reclaimed
 * only once its grace ended, so the `expired` and `grace-ended` entries of that lease come
 * right before the reclaim: the audit bound never drops them first.
 */
function previousHolder(audit: readonly AuditEntry[], index: number): string | undefined {
  const epoch = audit[index]!.epoch;
  if (epoch === undefined) return undefined;
  for (let i = index - 1; i >= 0; i--) {
    const entry = audit[i]!;
    if (entry.epoch === epoch - 1 && entry.owner !== undefined) return entry.owner;
  }
  return undefined;
}

const later = (a: number | null, b: number) => (a === null || b > a ? b : a);

export function agentActivity(snapshots: Iterable<TaskSnapshot>): AgentActivity[] {
  const agents = new Map<string, AgentActivity>();
  const of = (owner: string) => {
    let agent = agents.get(owner);
    if (agent === undefined) {
      agent = { owner, leases: [], lastHeartbeatAt: null, lastSeenAt: null, claims: 0, completed: 0, failed: 0, released: 0, reclaimedFrom: 0 };
      agents.set(owner, agent);
    }
    return agent;
  };

  for (const { value, context } of snapshots) {
    const lease = context.lease;
    if (lease !== null) {
      const holder = of(lease.owner);
      holder.lastSeenAt = later(holder.lastSeenAt, lease.heartbeatAt);
      if (LIVE.has(statePath(value))) {
        holder.leases.push(leaseView(context)!);
        holder.lastHeartbeatAt = later(holder.lastHeartbeatAt, lease.heartbeatAt);
      }
    }
    const { audit } = context;
    for (let index = 0; index < audit.length; index++) {
      const entry = audit[index]!;
      if (entry.owner === undefined || !OWN_CALLS.has(entry.event)) continue;
      const agent = of(entry.owner);
      agent.lastSeenAt = later(agent.lastSeenAt, entry.at);
      switch (entry.event) {
        case 'claimed':
          agent.claims++;
          break;
        case 'reclaimed': {
          agent.claims++;
          // Taken from another owner; an owner claiming back its own expired task lost nothing.
          const previous = previousHolder(audit, index);
          if (previous !== undefined && previous !== entry.owner) of(previous).reclaimedFrom++;
          break;
        }
        case 'completed':
          agent.completed++;
          break;
        case 'failed':
        case 'failed-retrying':
          agent.failed++;
          break;
        case 'released':
          agent.released++;
          break;
      }
    }
  }
  return [...agents.values()].sort((a, b) => (a.owner < b.owner ? -1 : a.owner > b.owner ? 1 : 0));
}
