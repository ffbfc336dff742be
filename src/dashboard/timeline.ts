// A task's story for the task page: its audit (durable, bounded per task) merged with its
// lifecycle events still in the server's ring (ephemeral). A ring event the audit already
// records (same kind, time and epoch) is left out; what the audit does not keep (stuck,
// recovered, heartbeats it no longer holds) is added. Oldest first; ties keep the audit first.
import type { AuditEntry } from '../../machines/task.types.js';
import type { LifecycleEvent } from './types.js';

export interface TimelineEntry {
  at: number;
  /** The audit's event name (`claimed`, `late-heartbeat`), or the lifecycle event's type. */
  event: string;
  owner: string | null;
  epoch: number | null;
  detail: string | null;
  source: 'audit' | 'events';
}

/** The audit names a lifecycle event type is recorded under. */
const AUDITED_AS: Partial<Record<LifecycleEvent['type'], string[]>> = {
  claimed: ['claimed'],
  reclaimed: ['reclaimed'],
  heartbeat: ['heartbeat', 'late-heartbeat'],
  expired: ['expired'],
  released: ['released'],
  completed: ['completed'],
  failed: ['failed', 'failed-retrying'],
  graceExtended: ['grace-extended'],
  compensated: ['compensated'],
  quarantined: ['quarantined'],
};

function eventDetail(event: LifecycleEvent): string | null {
  switch (event.type) {
    case 'heartbeat':
      return `progress ${event.progress}${event.late ? ' (late)' : ''}`;
    case 'stuck':
      return `${event.renewals} renewals: the renewal limit`;
    case 'recovered':
      return `hand-off from ${event.previousOwner} (epoch ${event.previousEpoch}): ${event.reason}`;
    case 'reclaimed':
      return `from ${event.previousOwner} (epoch ${event.previousEpoch})`;
    case 'failed':
      return event.error;
    case 'released':
      return event.reason;
    case 'graceExtended':
      return `${event.reason}: +${event.extendMs} ms`;
    case 'quarantined':
      return event.reason;
    default:
      return null;
  }
}

export function mergeTimeline(audit: AuditEntry[], events: LifecycleEvent[]): TimelineEntry[] {
  const entries: TimelineEntry[] = audit.map((entry) => ({
    at: entry.at,
    event: entry.event,
    owner: entry.owner ?? null,
    epoch: entry.epoch ?? null,
    detail: entry.detail ?? null,
    source: 'audit',
  }));
  const recorded = new Set(audit.map((entry) => `${entry.event}@${entry.at}`));
  for (const event of events) {
    const names = AUDITED_AS[event.type] ?? [];
    if (names.some((name) => recorded.has(`${name}@${event.at}`))) continue;
    // An expiry is audited at the lease's end, which the event's `at` may trail.
    if (event.type === 'expired' && audit.some((entry) => entry.event === 'expired' && entry.epoch === event.epoch)) continue;
    const fenced = 'owner' in event && 'epoch' in event;
    entries.push({
      at: event.at,
      event: event.type,
      owner: fenced ? event.owner : null,
      epoch: fenced ? event.epoch : null,
      detail: eventDetail(event),
      source: 'events',
    });
  }
  // Stable: equal times keep their order (the audit's first, then the ring's).
  return entries.map((entry, index) => ({ entry, index })).sort((a, b) => a.entry.at - b.entry.at || a.index - b.index).map(({ entry }) => entry);
}
