// The one-line summary of the stats that the `report` sweep logs.
import { counted } from './count.js';
import type { SupervisorStats } from './types.js';

const minutes = (ms: number) => (ms % 60_000 === 0 ? `${ms / 60_000} min` : `${ms / 1000} s`);

export function statsLine(stats: SupervisorStats): string {
  const states = Object.entries(stats.byState)
    .filter(([, n]) => n > 0)
    .map(([state, n]) => `${state} ${n}`)
    .join(', ');
  const reasons = Object.entries(stats.graceExtensions.byReason)
    .map(([reason, n]) => `${reason} ${n}`)
    .join(', ');
  return [
    `leasehold: ${counted(stats.total, 'task')}${states ? ` (${states})` : ''}`,
    `${stats.expiringSoon} expiring within ${minutes(stats.expiringSoonMs)}`,
    `${stats.stuck} stuck`,
    `avg renewals ${stats.averageRenewals.toFixed(1)}`,
    counted(stats.lateHeartbeats, 'late heartbeat'),
    `${counted(stats.graceExtensions.total, 'grace extension')}${reasons ? ` (${reasons})` : ''}`,
    `${counted(stats.reclaims, 'reclaim')} (${stats.spuriousReclaims} spurious)`,
    counted(stats.recoveries, 'recovery', 'recoveries'),
    `reconciled ${stats.sweeps.reconcile.count}`,
    `archived ${stats.sweeps.retain.count}`,
  ].join('; ');
}
