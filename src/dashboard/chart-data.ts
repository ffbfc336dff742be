// The chart's data, pure: calls/s (the sum of all lifecycle event counters' deltas per
// second), expiries and reclaims, in 5-second buckets over the last 5 minutes, from cumulative
// stats samples. Buckets before the first sample are gaps (null).

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

/** Per bucket ending at `now`: calls per second, expiries and reclaims in the bucket. */
export function buckets(samples: Sample[], now: number): Series {
  const end = Math.floor(now / BUCKET_MS) * BUCKET_MS;
  const start = end - WINDOW_MS;
  const series: Series = [[], [], [], []];
  let i = 0;
  // The latest sample at or before each bucket's end; a bucket's values are the change since the previous end.
  let latest: Sample | undefined;
  while (i < samples.length && samples[i]!.at <= start) latest = samples[i++];
  // Without a sample before the window (the page is younger than 5 minutes), the first one is the baseline.
  let previous = latest ?? samples[i];
  for (let t = start + BUCKET_MS; t <= end; t += BUCKET_MS) {
    while (i < samples.length && samples[i]!.at <= t) latest = samples[i++];
    series[0].push(t / 1000);
    if (latest && previous) {
      series[1].push((latest.calls - previous.calls) / (BUCKET_MS / 1000));
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
