// Summary statistics shared by every workload: nearest-rank percentiles, medians, and the
// median of each field across repeated runs.

/** The p-th percentile (0–100) by nearest rank; NaN for no samples. */
export function percentile(values: ArrayLike<number>, p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** The middle value (mean of the two middle ones for an even count). */
export function median(values: ArrayLike<number>): number {
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export interface LatencySummary {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export function latencySummary(samplesMs: ArrayLike<number>): LatencySummary {
  return { p50Ms: percentile(samplesMs, 50), p99Ms: percentile(samplesMs, 99), maxMs: percentile(samplesMs, 100) };
}

/** Numeric fields only: what the medians are taken over. */
export type Metrics = { [key: string]: number };

/** Field by field median across runs, keeping the key order of the first run. */
export function medianOfRuns<M extends Metrics>(runs: readonly M[]): M {
  const first = runs[0];
  if (first === undefined) throw new Error('medianOfRuns: no runs');
  return Object.fromEntries(Object.keys(first).map((key) => [key, median(runs.map((run) => run[key]!))])) as M;
}

/** a / b, or NaN when b is not a positive number. */
export function ratio(a: number, b: number): number {
  return b > 0 ? a / b : Number.NaN;
}
