// Checks the supervisor's `stats` options and fills in their defaults.
import { InvalidInputError } from '../errors.js';
import { DEFAULT_EXPIRING_SOON_MS, DEFAULT_HISTORY_LIMIT, type StatsOptions } from './types.js';

export function statsConfig(raw: StatsOptions | undefined): Required<StatsOptions> {
  if (raw === undefined) return { expiringSoonMs: DEFAULT_EXPIRING_SOON_MS, historyLimit: DEFAULT_HISTORY_LIMIT };
  if (raw === null || typeof raw !== 'object') throw new InvalidInputError('stats options', ['expected an object']);
  const issues: string[] = [];
  for (const key of Object.keys(raw)) {
    if (key !== 'expiringSoonMs' && key !== 'historyLimit') issues.push(`${key}: unknown option (expected expiringSoonMs, historyLimit)`);
  }
  const { expiringSoonMs = DEFAULT_EXPIRING_SOON_MS, historyLimit = DEFAULT_HISTORY_LIMIT } = raw;
  if (typeof expiringSoonMs !== 'number' || !Number.isFinite(expiringSoonMs) || expiringSoonMs < 0) {
    issues.push('expiringSoonMs: expected a number of milliseconds ≥ 0');
  }
  if (!Number.isInteger(historyLimit) || historyLimit < 0 || historyLimit > 1_000_000) {
    issues.push('historyLimit: expected a whole number from 0 to 1,000,000');
  }
  if (issues.length > 0) throw new InvalidInputError('stats options', issues);
  return { expiringSoonMs, historyLimit };
}
