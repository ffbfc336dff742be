// The PostgreSQL store: one row per task in a schema of its own, each group commit one
// transaction fenced by the ownership generation (src/store/postgres-ownership.ts), migrations
// at open (src/store/postgres-schema.ts). What a supervisor uses when one machine is not enough.

import pg from 'pg';
import { InvalidInputError, LeaseholdError, StoreCorruptError, StoreLockedError, StoreWriteError } from '../errors.js';
import { waitForLock, type LockWaitTime } from './lock-wait.js';
import { postgresSettings, type PostgresStoreOptions } from './postgres-options.js';
import { beginFenced, ownershipLost, releaseOwnership, startRenewal, takeOwnership, type Held, type Ownership, type Renewal } from './postgres-ownership.js';
import { readRows } from './postgres-reader.js';
import { lockSchema, migrate, schemaVersion } from './postgres-schema.js';
import { checkedMeta, recordTexts } from './records.js';
import type { Store, StoreChanges, StoreContents, StoreHolder, StoreMeta, TaskRecord } from './types.js';

export { DEFAULT_OWNERSHIP_TTL_MS, type PostgresStoreOptions } from './postgres-options.js';
export type { Ownership } from './postgres-ownership.js';

export interface PostgresStore extends Store {
  /** This store's ownership while open (undefined when closed): generation, clock skew, lost. */
  ownership(): Ownership | undefined;
  onOwnership(listener: (ownership: Ownership) => void): () => void;
  openWhenFree(options: { signal: AbortSignal; waiting(holder: StoreHolder): void }): Promise<StoreContents>;
}

/** One task row to write: the columns beside the record are read from it, for SQL's sake only. */
interface Row {
  id: string;
  state: string;
  record: string;
  deadlines: (number | null)[];
}

/** The record fields copied into the indexed deadline columns, in column order. */
const DEADLINE_COLUMNS = ['lease_expires_at', 'grace_ends_at', 'not_before', 'compensation_retry_at'] as const;

/**
 * A pooled connection for one transaction. The server may end it meanwhile (its idle-in-
 * transaction timeout, after this process was paused): with a listener the next query fails
 * and the commit is refused, where pg would otherwise crash the process with an unhandled
 * 'error' event of a connection checked out of its pool.
 */
async function checkout(from: pg.Pool): Promise<{ client: pg.PoolClient; release(broken?: Error): void }> {
  const client = await from.connect();
  const ended = () => {};
  client.on('error', ended);
  return {
    client,
    release(broken) {
      client.off('error', ended);
      client.release(broken);
    },
  };
}

/** PostgreSQL text holds neither NUL nor a lone surrogate (the driver would turn it into U+FFFD). */
const UNSTORABLE_ID = /\0|\p{Cs}/u;

export function postgresStore(options: PostgresStoreOptions): PostgresStore {
  const settings = postgresSettings(options);
  const { schema: s, location } = settings;
  let pool: pg.Pool | undefined;
  let renewal: Renewal | undefined;
  let opening = false;
  let closing: Promise<void> | undefined;
  /** Commits run one after another, in call order; close waits for this. */
  let tail: Promise<void> = Promise.resolve();

  const { clock } = settings;

  const waitTime: LockWaitTime = { now: () => clock.now(), sleep: (ms) => new Promise<void>((resolve) => void clock.setTimeout(resolve, ms)) };

  const listeners = new Set<(ownership: Ownership) => void>();
  const tell = (ownership: Ownership) => {
    for (const listener of [...listeners]) {
      try {
        listener(ownership);
      } catch {
        // The listener's own failure (the supervisor guards its own): the store goes on.
      }
    }
  };

  type Opened = { contents: StoreContents; ownership: Ownership; triedAt: number };

  /** Opens a pool, takes ownership through `take` (which tries openOnce), starts the renewal. */
  const openWith = async (take: (candidate: pg.Pool) => Promise<Opened>): Promise<StoreContents> => {
    if (opening || pool) throw new StoreLockedError(location, 'already open through this store object');
    opening = true;
    // Two connections: one for the commits (one at a time), one for the renewal beside them.
    // A connection that cannot be made within the TTL would not keep ownership anyway.
    const candidate = new pg.Pool({
      connectionString: settings.connectionString,
      max: 2,
      connectionTimeoutMillis: Math.max(settings.ttlMs, 2_000),
      keepAlive: true,
      application_name: 'leasehold',
      // A supervisor paused (SIGSTOP, a VM freeze) inside a commit holds the ownership row FOR
      // SHARE, which would block every takeover for as long as it stays paused: the server ends
      // such a transaction (and its session) once idle for the TTL (1 s at least, so that a
      // tiny TTL does not cut a merely slow commit). Found by test/reliability/failover.test.ts.
      idle_in_transaction_session_timeout: Math.max(settings.ttlMs, 1_000),
    });
    // An idle connection the server drops must not crash the process: the next query reconnects.
    candidate.on('error', () => {});
    try {
      const opened = await take(candidate);
      pool = candidate;
      renewal = startRenewal(candidate, settings, clock, opened.ownership, opened.triedAt, tell);
      tell(opened.ownership);
      return opened.contents;
    } catch (error) {
      await candidate.end().catch(() => {});
      if (error instanceof LeaseholdError) throw error;
      throw new StoreWriteError(`cannot open store ${location}: ${(error as Error).message}`, error);
    } finally {
      opening = false;
    }
  };

  const tryOpen = async (candidate: pg.Pool): Promise<Opened | Held> => {
    const triedAt = clock.now();
    const attempt = await openOnce(candidate);
    return 'held' in attempt ? attempt : { ...attempt, triedAt };
  };

  const open = () =>
    openWith(async (candidate) => {
      const started = clock.now();
      let held = '';
      const opened = await waitForLock(async () => {
        const attempt = await tryOpen(candidate);
        if ('held' in attempt) held = attempt.held;
        return 'held' in attempt ? undefined : attempt;
      }, settings.lockWaitMs, waitTime);
      if (!opened) throw new StoreLockedError(location, held, settings.lockWaitMs > 0 ? Math.max(0, clock.now() - started) : undefined);
      return opened;
    });

  /** A standby's open: tries every quarter of the TTL (50 ms to 1 s) until it takes the store or is aborted. */
  const openWhenFree = ({ signal, waiting }: { signal: AbortSignal; waiting(holder: StoreHolder): void }) =>
    openWith(async (candidate) => {
      const pauseMs = Math.min(1_000, Math.max(50, Math.floor(settings.ttlMs / 4)));
      let seen: StoreHolder = { holder: null, url: null };
      let told = '';
      for (;;) {
        if (signal.aborted) throw signal.reason;
        let attempt: Opened | Held | undefined;
        try {
          attempt = await tryOpen(candidate);
          if ('held' in attempt) seen = { holder: attempt.holder, url: attempt.url };
        } catch (error) {
          // A store that is not ours to open never will be; an unreachable database may come back.
          if (error instanceof StoreCorruptError) throw error;
          seen = { holder: seen.holder, url: seen.url, problem: (error as Error).message };
        }
        if (attempt && !('held' in attempt)) {
          if (!signal.aborted) return attempt;
          await releaseOwnership(candidate, settings, attempt.ownership.generation).catch(() => {});
          throw signal.reason;
        }
        if (JSON.stringify(seen) !== told) {
          told = JSON.stringify(seen);
          waiting(seen);
        }
        await pause(pauseMs, signal);
      }
    });

  /** Waits `ms` on the store's clock, or less when `signal` aborts. */
  const pause = (ms: number, signal: AbortSignal) =>
    new Promise<void>((resolve) => {
      const done = () => {
        clock.clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = clock.setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
    });

  /** One try: the store's contents with ownership taken, or who holds it (nothing changed). */
  const openOnce = async (candidate: pg.Pool): Promise<{ contents: StoreContents; ownership: Ownership } | Held> => {
    const { client, release } = await checkout(candidate);
    try {
      await client.query('BEGIN');
      await lockSchema(client, s);
      const version = await schemaVersion(client, s, location);
      if (version === 0) await migrate(client, s, 0, 1);
      // Ownership before any later migration: a store another supervisor owns is not upgraded under it.
      const ownership = await takeOwnership(client, settings, clock);
      if ('held' in ownership) {
        await client.query('ROLLBACK');
        return ownership;
      }
      await migrate(client, s, Math.max(version, 1));
      const contents = await readRows(client, s, location);
      await client.query('COMMIT');
      return { contents, ownership };
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      release();
    }
  };

  const write = async (rows: Row[], deletions: string[], meta: StoreMeta | undefined, generation: number): Promise<void> => {
    const { client, release } = await checkout(pool!);
    let broken: Error | undefined;
    try {
      await beginFenced(client, settings, generation);
      if (rows.length > 0) await upsert(client, rows);
      if (deletions.length > 0) await client.query(`DELETE FROM ${s}.tasks WHERE id = ANY($1::text[])`, [deletions]);
      // The floor is a checked safe integer, so it can ride along with COMMIT in one round trip.
      await client.query(meta ? `UPDATE ${s}.store SET epoch_floor = ${meta.epochFloor} WHERE id = 1; COMMIT` : 'COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch((rollback: Error) => (broken = rollback));
      if (error instanceof StoreLockedError) renewal?.markLost();
      if (error instanceof LeaseholdError) throw error;
      throw new StoreWriteError(`writing to store ${location} failed: ${(error as Error).message}`, error);
    } finally {
      // A connection whose rollback failed is discarded, not handed to the next commit.
      release(broken);
    }
  };

  const upsert = (client: pg.PoolClient, rows: Row[]) =>
    client.query(
      `INSERT INTO ${s}.tasks (id, state, record, ${DEADLINE_COLUMNS.join(', ')})
       SELECT id, state, record, ${DEADLINE_COLUMNS.join(', ')}
         FROM unnest($1::text[], $2::text[], $3::json[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[])
              WITH ORDINALITY AS batch (id, state, record, ${DEADLINE_COLUMNS.join(', ')}, n)
        ORDER BY n -- new tasks take their seq in the batch's order
       ON CONFLICT (id) DO UPDATE SET state = excluded.state, record = excluded.record,
         ${DEADLINE_COLUMNS.map((c) => `${c} = excluded.${c}`).join(', ')}`,
      [rows.map((r) => r.id), rows.map((r) => r.state), rows.map((r) => r.record), ...DEADLINE_COLUMNS.map((_, i) => rows.map((r) => r.deadlines[i]))],
    );

  return {
    location,

    open,
    openWhenFree,
    onOwnership(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },

    commit(changes: StoreChanges, nextMeta?: StoreMeta): Promise<void> {
      if (!pool || closing) return Promise.reject(new StoreWriteError(`store ${location} is not open`));
      let rows: Row[];
      let deletions: string[];
      let meta: StoreMeta | undefined;
      try {
        // Checked and serialised now, in full: the caller may change its objects once commit() returns.
        ({ rows, deletions } = rowsOf(changes));
        meta = nextMeta === undefined ? undefined : checkedMeta(nextMeta);
      } catch (error) {
        return Promise.reject(error as Error);
      }
      const ownership = renewal!.ownership;
      const result = tail.then(() => {
        const now = renewal?.ownership;
        if (!now || now.lost) throw ownershipLost(location, ownership.generation, null);
        return write(rows, deletions, meta, ownership.generation);
      });
      tail = result.catch(() => {});
      return result;
    },

    close(): Promise<void> {
      if (!pool) return closing ?? Promise.resolve();
      if (closing) return closing;
      const closed = pool;
      closing = (async () => {
        await tail;
        const ownership = renewal!.ownership;
        await renewal!.stop();
        renewal = undefined;
        // Released so the next opener takes over at once; a lost ownership is not ours to release.
        if (!ownership.lost) await releaseOwnership(closed, settings, ownership.generation).catch(() => {});
        await closed.end().catch(() => {});
        pool = undefined;
      })().finally(() => {
        closing = undefined;
      });
      return closing;
    },

    ownership: () => renewal?.ownership,
  };
}

/** The rows to upsert and the ids to delete, or INVALID_INPUT with nothing applied. */
function rowsOf(changes: StoreChanges): { rows: Row[]; deletions: string[] } {
  const texts = recordTexts(changes);
  const bad = [...texts.keys()].filter((id) => UNSTORABLE_ID.test(id));
  if (bad.length > 0) {
    throw new InvalidInputError('store changes', [`task ids ${bad.map((id) => JSON.stringify(id)).join(', ')} hold a NUL or a lone surrogate, which PostgreSQL text cannot store`], bad);
  }
  const rows: Row[] = [];
  const deletions: string[] = [];
  for (const [id, text] of texts) {
    if (text === null) {
      deletions.push(id);
      continue;
    }
    // The columns come from what is stored: the object itself when it is plain (its text is
    // exactly its JSON), else the text (a class instance's toJSON may have made it anything).
    const given = changes.get(id)!;
    const proto: unknown = Object.getPrototypeOf(given);
    const record = proto === Object.prototype || proto === null ? given : (JSON.parse(text) as TaskRecord);
    rows.push({ id, state: topState(record.state), record: text, deadlines: deadlinesOf(record.context) });
  }
  return { rows, deletions };
}

function topState(state: TaskRecord['state']): string {
  return typeof state === 'string' ? state : (Object.keys(state)[0] ?? '');
}

/** The record's deadlines (epoch ms on the supervisor's clock) when they are whole numbers, else null. */
function deadlinesOf(context: TaskRecord['context']): (number | null)[] {
  const lease = context.lease as { expiresAt?: unknown } | null | undefined;
  const values = [lease?.expiresAt, context.graceEndsAt, context.notBefore, context.compensationRetryAt];
  return values.map((v) => (typeof v === 'number' && Number.isSafeInteger(v) ? v : null));
}
