// The one-line summary of the stats that the `report` sweep logs.
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
    `leasehold: ${stats.total} tasks${states ? ` (${states})` : ''}`,
    `${stats.expiringSoon} expiring within ${minutes(stats.expiringSoonMs)}`,
    `${stats.stuck} stuck`,
    `avg renewals ${stats.averageRenewals.toFixed(1)}`,
    `${stats.lateHeartbeats} late heartbeats`,
    `${stats.graceExtensions.total} grace extensions${reasons ? ` (${reasons})` : ''}`,
    `${stats.reclaims} reclaims (${stats.spuriousReclaims} spurious)`,
    `${stats.recoveries} recoveries`,
    `reconciled ${stats.sweeps.reconcile.count}`,
    `archived ${stats.sweeps.retain.count}`,
  ].join('; ');
}
