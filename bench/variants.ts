// The systems the workloads compare, under stable keys (also the keys of results.json), and
// the one place where the durable JSON store that the targets are judged on is chosen.
import { createSupervisor, jsonFileStore, memoryStore, postgresStore, systemClock, type Store, type Supervisor, type TaskLimits } from '../src/index.js';
import { join } from 'node:path';
import type { Variant } from './alternate.js';
import type { Metrics } from './stats.js';

// ─── The durable JSON store under test ────────────────────────────────────────────────────
// THE single place that selects it: the default JSON store, journaled (group commit appends
// to `<path>.journal`, compacted into the JSON snapshot). With `journaled: true` the plain
// whole-file store (`{ journal: false }`) also runs, as a reference; set it to false (and open
// the plain store here) to judge the targets on the plain store instead.
const DURABLE_JSON = {
  journaled: true,
  open: (file: string): Store => jsonFileStore(file),
};
// ───────────────────────────────────────────────────────────────────────────────────────────

export type LeaseholdKind = 'leasehold-json' | 'leasehold-json-plain' | 'leasehold-memory';
export type VariantKey = LeaseholdKind | 'sqlite';
/** W4's other ways to the same work: leasehold's daemon over HTTP, BullMQ on Redis fsyncing per write or per second. */
export type ServiceKey = 'leasehold-http' | 'bullmq-always' | 'bullmq-everysec';

export const JSON_STORE_KIND = DURABLE_JSON.journaled ? 'journaled' : 'plain';

/** How a variant is named in the tables; `jsonStore` is the kind a (possibly saved) report ran. */
export function labelOf(key: string, jsonStore: string = JSON_STORE_KIND): string {
  const json = jsonStore === 'journaled' ? 'JSON + journal' : 'JSON file';
  const labels: Record<VariantKey | ServiceKey, string> = {
    'leasehold-json': `leasehold, ${json}`,
    'leasehold-json-plain': 'leasehold, JSON file (plain)',
    'leasehold-memory': 'leasehold, memoryStore',
    sqlite: 'SQLite baseline',
    'leasehold-http': `leasehold over HTTP, ${json}`,
    'bullmq-always': 'BullMQ, Redis appendfsync always',
    'bullmq-everysec': 'BullMQ, Redis appendfsync everysec',
  };
  return labels[key as VariantKey | ServiceKey] ?? key;
}

/**
 * The variants of one workload, leasehold's first and the SQLite baseline last: the durable
 * JSON store, the plain store for reference when the durable one is journaled (`plain`; it
 * runs one round only: it is slow by design), memoryStore when asked for (`memory`).
 */
export function variantsOf<M extends Metrics>(
  include: { plain: boolean; memory: boolean },
  run: (key: VariantKey) => Promise<M>,
): Variant<M>[] {
  const keys: VariantKey[] = [
    'leasehold-json',
    ...(DURABLE_JSON.journaled && include.plain ? (['leasehold-json-plain'] as const) : []),
    ...(include.memory ? (['leasehold-memory'] as const) : []),
    'sqlite',
  ];
  return keys.map((key) => ({ name: key, ...(key === 'leasehold-json-plain' ? { rounds: 1 } : {}), run: () => run(key) }));
}

function storeFor(kind: LeaseholdKind, dir: string): Store {
  const file = join(dir, 'store.json');
  switch (kind) {
    case 'leasehold-json':
      return DURABLE_JSON.open(file);
    case 'leasehold-json-plain':
      return jsonFileStore(file, { journal: false });
    case 'leasehold-memory':
      return memoryStore();
  }
}

/** A supervisor as a production user would run it (system clock), without cron sweeps. */
export function openSupervisor(kind: LeaseholdKind, dir: string, defaults: Partial<TaskLimits> = {}): Promise<Supervisor> {
  return createSupervisor({ store: storeFor(kind, dir), clock: systemClock(), defaults, schedule: false });
}

/** The same on postgresStore (W6): `schema` in the database at `url`. */
export function openPostgresSupervisor(url: string, schema: string): Promise<Supervisor> {
  return createSupervisor({ store: postgresStore({ connectionString: url, schema }), clock: systemClock(), schedule: false });
}
