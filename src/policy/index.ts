// The policy package's public surface, and `resolvePolicy`: a lease policy described as JSON
// data (so a per-task policy can be stored on the task and survive restarts) turned into a
// `LeasePolicy`. Extension probes are functions with I/O and are not part of the data.
import { z } from 'zod';
import { cadenceShape, checkCadence, withCadence, type CadenceOptions } from './cadence.js';
import { fixedPolicy } from './fixed.js';
import { parseOptions } from './options.js';
import { checkLeaseBounds, progressivePolicy, progressiveShape, type ProgressiveOptions } from './progressive.js';
import type { LeasePolicy } from './types.js';

export type { ExtensionProbe, GraceExtension, GraceInput, LeaseInput, LeasePolicy } from './types.js';
export { fixedPolicy } from './fixed.js';
export { progressivePolicy, type ProgressiveOptions } from './progressive.js';
export { cadenceRule, withCadence, medianInterval, type CadenceOptions } from './cadence.js';
export { gitMergeConflictProbe, hasUnmergedPaths, hasUnmergedEntries, type GitMergeConflictProbeOptions } from './git-probe.js';

export type PolicyConfig =
  | { kind: 'fixed'; cadence?: CadenceOptions }
  | ({ kind: 'progressive'; cadence?: CadenceOptions } & ProgressiveOptions);

const cadenceConfig = z.strictObject(cadenceShape).superRefine(checkCadence);

/** The JSON form of a policy; every option is checked here, as the constructors would. */
export const policyConfigSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('fixed'), cadence: cadenceConfig.optional() }),
  z.strictObject({ kind: z.literal('progressive'), cadence: cadenceConfig.optional(), ...progressiveShape }).superRefine(checkLeaseBounds),
]) as z.ZodType<PolicyConfig>;

/**
 * `{ kind: 'fixed' }` or `{ kind: 'progressive', ...ProgressiveOptions }`, either with an
 * optional `cadence: CadenceOptions` (adds the cadence rule with `withCadence`) → a
 * LeasePolicy. Anything else → INVALID_INPUT naming every problem. Typed `unknown` on
 * purpose: the config usually arrives as stored or caller-supplied JSON, and is validated here.
 */
export function resolvePolicy(config: unknown): LeasePolicy {
  const parsed = parseOptions(policyConfigSchema, config, 'lease policy config');
  const { cadence, ...rest } = parsed;
  const base = rest.kind === 'fixed' ? fixedPolicy() : progressivePolicy(withoutKind(rest));
  return cadence === undefined ? base : withCadence(base, cadence);
}

function withoutKind(config: { kind: 'progressive' } & ProgressiveOptions): ProgressiveOptions {
  const { kind: _kind, ...options } = config;
  return options;
}
