// A PostgreSQL store's agent and viewer tokens, shared by every daemon on the store (leader or
// standby): only their SHA-256 hashes, in `<schema>.tokens` (postgres-schema.ts, version 2), so
// one minted on any daemon works on all of them and a revocation applies everywhere.
import pg from 'pg';
import { AgentNotFoundError, DuplicateAgentError, LeaseholdError } from '../errors.js';
import type { Logger } from '../logger.js';
import { postgresSettings } from '../store/postgres-options.js';
import { lockSchema, migrate, schemaVersion, SCHEMA_VERSION } from '../store/postgres-schema.js';
import { hashOf, identifyIn, newToken, type TokenRecord, type TokenRegistry } from './tokens.js';

export interface PostgresTokensOptions {
  adminToken: string;
  connectionString: string;
  /** Default `leasehold`. */
  schema?: string;
  /**
   * How often the in-memory copy is read again (default 1000 ms; 0: only after a miss and after
   * this registry's own changes), so a token revoked through another daemon is refused here too.
   */
  refreshMs?: number;
  /** Default console. Never given a token. */
  logger?: Logger;
}

/** Milliseconds since the epoch on the database's clock (every daemon stamps with one clock). */
const NOW_MS = '(extract(epoch FROM clock_timestamp()) * 1000)::bigint';

interface Row {
  hash: string;
  owner: string;
  role: 'agent' | 'viewer';
  created_at: string;
}

/**
 * The registry on `schema`, its copy read once. Brings the schema up to the tokens table first
 * (under the schema's advisory lock; additive, so safe beside a supervisor that owns the store).
 * A schema holding no store is INVALID_INPUT. `identify` stays synchronous (the copy);
 * `identifyFresh`, after a miss, reads the table once more before the caller refuses.
 */
export async function openPostgresTokens(options: PostgresTokensOptions): Promise<TokenRegistry & Required<Pick<TokenRegistry, 'identifyFresh' | 'close'>>> {
  const { schema: s, location } = postgresSettings({ connectionString: options.connectionString, ...(options.schema !== undefined && { schema: options.schema }) });
  const logger = options.logger ?? console;
  const adminHash = hashOf(options.adminToken);
  const pool = new pg.Pool({ connectionString: options.connectionString, max: 2 });
  // An idle connection the server drops is replaced on the next query; it must not crash the process.
  pool.on('error', () => {});

  const upgrade = async () => {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await lockSchema(client, s);
      const version = await schemaVersion(client, s, location);
      if (version === 0) throw new LeaseholdError('INVALID_INPUT', `no store at ${location} (give --store)`);
      await migrate(client, s, version, SCHEMA_VERSION);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  };

  let live: TokenRecord[] = [];
  const read = async () => {
    const { rows } = await pool.query<Row>(`SELECT hash, owner, role, created_at FROM ${s}.tokens WHERE revoked_at IS NULL ORDER BY created_at, hash`);
    live = rows.map((row) => ({ hash: row.hash, owner: row.owner, role: row.role, createdAt: Number(row.created_at) }));
  };

  // Reads that start after the caller asked, shared: many misses at once cost one read in flight and one queued.
  let current: Promise<void> | undefined;
  let queued: Promise<void> | undefined;
  const fresh = (): Promise<void> => {
    if (!current) {
      current = read().finally(() => (current = undefined));
      return current;
    }
    queued ??= current
      .catch(() => {})
      .then(() => {
        queued = undefined;
        return fresh();
      });
    return queued;
  };

  try {
    await upgrade();
    await fresh();
  } catch (error) {
    await pool.end();
    throw error;
  }

  const refreshMs = options.refreshMs ?? 1000;
  const timer = refreshMs > 0 ? setInterval(() => void fresh().catch((error: unknown) => logger.warn(`leasehold: reading ${location} tokens failed: ${(error as Error).message}`)), refreshMs) : undefined;
  timer?.unref();

  let closing: Promise<void> | undefined;
  return {
    identify: (token) => identifyIn(adminHash, live, token),

    async identifyFresh(token) {
      try {
        await fresh();
      } catch (error) {
        logger.warn(`leasehold: reading ${location} tokens failed: ${(error as Error).message}`);
      }
      return identifyIn(adminHash, live, token);
    },

    async mint(owner, role) {
      const token = newToken();
      try {
        await pool.query(`INSERT INTO ${s}.tokens (hash, owner, role, created_at) VALUES ($1, $2, $3, ${NOW_MS})`, [hashOf(token), owner, role]);
      } catch (error) {
        // The partial unique index: a live token of this owner and role exists (on any daemon).
        if ((error as { code?: string }).code === '23505') throw new DuplicateAgentError(owner, role);
        throw error;
      }
      await fresh();
      return { owner, role, token };
    },

    async revoke(owner) {
      const { rowCount } = await pool.query(`UPDATE ${s}.tokens SET revoked_at = ${NOW_MS} WHERE owner = $1 AND revoked_at IS NULL`, [owner]);
      if (!rowCount) throw new AgentNotFoundError(owner);
      await fresh();
      return { owner, revoked: rowCount };
    },

    async list() {
      await fresh();
      return live.map(({ owner, role, createdAt }) => ({ owner, role, createdAt }));
    },

    close: () =>
      (closing ??= (async () => {
        clearInterval(timer);
        await current?.catch(() => {});
        await pool.end();
      })()),
  };
}
