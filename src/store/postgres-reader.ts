// Reading a PostgreSQL store's rows: the task records and the meta, validated as an opening
// supervisor validates them. The store's open uses it inside its transaction; the CLI's reading
// commands use `readPostgresStore`, which takes no ownership and writes nothing.
import pg from 'pg';
import { InvalidInputError, StoreCorruptError } from '../errors.js';
import { postgresSettings, type PostgresStoreOptions } from './postgres-options.js';
import { schemaVersion } from './postgres-schema.js';
import { parsedRecordIssues, summarise } from './records.js';
import type { StoreReading } from './reader.js';
import type { StoreContents, TaskRecord } from './types.js';

/** Every task (in the order first stored) and the meta of the store in `schema`, through `client`. */
export async function readRows(client: pg.ClientBase, schema: string, location: string): Promise<Required<StoreContents>> {
  const meta = await client.query<{ epoch_floor: string }>(`SELECT epoch_floor FROM ${schema}.store WHERE id = 1`);
  // record::text and our own JSON.parse: the driver's json parser can be replaced process-wide.
  const rows = await client.query<{ id: string; record: string }>(`SELECT id, record::text AS record FROM ${schema}.tasks ORDER BY seq`);
  const tasks = new Map<string, TaskRecord>();
  const issues: string[] = [];
  for (const { id, record } of rows.rows) {
    const where = `task ${JSON.stringify(id)}`;
    let value: unknown;
    try {
      value = JSON.parse(record);
    } catch (error) {
      issues.push(`${where}: ${(error as Error).message}`);
      continue;
    }
    const problems = parsedRecordIssues(id, value, where);
    if (problems.length > 0) issues.push(...problems);
    else tasks.set(id, value as TaskRecord);
  }
  if (issues.length > 0) throw new StoreCorruptError(location, summarise(issues).join('; '));
  return { tasks, meta: { epochFloor: Number(meta.rows[0]?.epoch_floor ?? 0) } };
}

/**
 * The store as one consistent snapshot of the database holds it (a read-only repeatable-read
 * transaction), without taking its ownership: it runs beside the supervisor that owns it.
 * INVALID_INPUT when the schema holds no store (nothing is created).
 */
export async function readPostgresStore(options: Pick<PostgresStoreOptions, 'connectionString' | 'schema'>): Promise<StoreReading> {
  const { connectionString, schema, location } = postgresSettings({ connectionString: options.connectionString, ...(options.schema && { schema: options.schema }) });
  const client = new pg.Client({ connectionString, connectionTimeoutMillis: 10_000, application_name: 'leasehold reader' });
  client.on('error', () => {});
  await client.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    if ((await schemaVersion(client, schema, location)) === 0) throw new InvalidInputError('store', [`no store at ${location} (nothing was created)`]);
    const { tasks, meta } = await readRows(client, schema, location);
    await client.query('COMMIT');
    return { location, tasks, meta, seq: 0 };
  } finally {
    await client.end().catch(() => {});
  }
}
