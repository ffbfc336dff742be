// Runs the variants of a workload alternately in one process run (A B C, A B C, …) so that
// drift in the machine (page cache, CPU frequency, neighbours) hits every variant alike, then
// reduces each variant's runs to medians. A slow reference variant may run in fewer rounds.
import { medianOfRuns, type Metrics } from './stats.js';

export interface Variant<M extends Metrics> {
  name: string;
  /** Runs only in the first `rounds` rounds (a slow reference variant); default every round. */
  rounds?: number;
  run(): Promise<M>;
}

export interface VariantResult<M extends Metrics> {
  median: M;
  runs: M[];
}

export async function alternate<M extends Metrics>(
  variants: readonly Variant<M>[],
  repeats: number,
  progress: (line: string) => void,
): Promise<{ [name: string]: VariantResult<M> }> {
  const runs = new Map<string, M[]>(variants.map((variant) => [variant.name, []]));
  for (let round = 1; round <= repeats; round++) {
    for (const variant of variants) {
      if (round > (variant.rounds ?? repeats)) continue;
      const started = performance.now();
      runs.get(variant.name)!.push(await variant.run());
      progress(`  round ${round}/${repeats} ${variant.name}: ${((performance.now() - started) / 1000).toFixed(1)} s`);
    }
  }
  return Object.fromEntries(variants.map(({ name }) => [name, { median: medianOfRuns(runs.get(name)!), runs: runs.get(name)! }]));
}
