// The chart's data, pure: calls/s (the sum of all lifecycle event counters' deltas, per
// second between samples), expiries and reclaims, in 5-second buckets over the last 5 minutes,
// from cumulative stats samples. Buckets before the first sample are gaps (null).

/** Cumulative counters at one stats read. */
export interface Sample {
  at: number;
  calls: number;
  expiries: number;
  reclaims: number;
}

const BUCKET_MS = 5_000;
const WINDOW_MS = 5 * 60_000;

export type Series = [number[], (number | null)[], (number | null)[], (number | null)[]];

/**
 * Per 5-second bucket over the 5 minutes before `now` (the last one ends at `now`, so the
 * current seconds show): calls per second between the samples that close consecutive buckets,
 * and the expiries and reclaims counted in the bucket.
 */
export function buckets(samples: Sample[], now: number): Series {
  const aligned = Math.floor(now / BUCKET_MS) * BUCKET_MS;
  const ends: number[] = [];
  for (let t = aligned - WINDOW_MS + BUCKET_MS; t <= aligned; t += BUCKET_MS) ends.push(t);
  if (aligned < now) ends.push(now);
  const series: Series = [[], [], [], []];
  let i = 0;
  let latest: Sample | undefined;
  while (i < samples.length && samples[i]!.at <= ends[0]! - BUCKET_MS) latest = samples[i++];
  // Without a sample before the window (the page is younger than 5 minutes), the first one is the baseline.
  let previous = latest ?? samples[i];
  for (const t of ends) {
    while (i < samples.length && samples[i]!.at <= t) latest = samples[i++];
    series[0].push(t / 1000);
    if (latest && previous) {
      const seconds = (latest.at - previous.at) / 1000;
      series[1].push(seconds > 0 ? (latest.calls - previous.calls) / seconds : 0);
      series[2].push(latest.expiries - previous.expiries);
      series[3].push(latest.reclaims - previous.reclaims);
      previous = latest;
    } else {
      series[1].push(null);
      series[2].push(null);
      series[3].push(null);
    }
  }
  return series;
}
