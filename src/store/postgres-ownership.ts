// Ownership of a PostgreSQL store: a lease on the database's clock with a generation (fencing
// token). Owns taking it at open, the check every commit makes under a share lock (Temporal's
// range_id pattern), its renewal every third of the TTL on the supervisor's clock, and release.

import type { Pool, PoolClient, QueryResult } from 'pg';
import type { Clock, TimerHandle } from '../clock/clock.js';
import { StoreLockedError } from '../errors.js';

/** What the owner knows about its ownership. */
export interface Ownership {
  /** The fencing token: bumped by every takeover; every commit checks it is still this one. */
  readonly generation: number;
  /**
   * The database clock minus the supervisor's clock at the last take or renewal, in ms (the
   * query's round trip included): what a standby will compare with its skew bound.
   */
  readonly skewMs: number;
  /** Set once a renewal or a commit found the generation taken over: nothing is written after. */
  readonly lost: boolean;
}

interface Target {
  schema: string;
  location: string;
  holder: string;
  advertisedUrl: string | null;
  ttlMs: number;
}

const dbNowMs = `(extract(epoch FROM clock_timestamp()) * 1000)::float8 AS db_now`;

/**
 * Takes ownership inside the opener's transaction (after lockSchema): when nobody holds the
 * store, or its holder has not renewed within its own TTL on the database clock. Bumps the
 * generation, so a deposed holder's next commit fails. Otherwise says who holds it.
 */
export async function takeOwnership(client: PoolClient, target: Target, clock: Clock): Promise<Ownership | Held> {
  const s = target.schema;
  const taken = await client.query<{ generation: string; db_now: number }>(
    `UPDATE ${s}.store
        SET holder = $1, holder_url = $2, ttl_ms = $3, generation = generation + 1, renewed_at = clock_timestamp()
      WHERE id = 1
        AND (holder IS NULL OR renewed_at IS NULL OR renewed_at + ttl_ms * interval '1 millisecond' < clock_timestamp())
      RETURNING generation, ${dbNowMs}`,
    [target.holder, target.advertisedUrl, target.ttlMs],
  );
  const row = taken.rows[0];
  if (row) return { generation: Number(row.generation), skewMs: row.db_now - clock.now(), lost: false };
  const held = await client.query<{ holder: string; holder_url: string | null; ago: number; ttl_ms: number }>(
    `SELECT holder, holder_url, ttl_ms, (extract(epoch FROM clock_timestamp() - renewed_at) * 1000)::float8 AS ago FROM ${s}.store WHERE id = 1`,
  );
  const h = held.rows[0];
  return {
    held: h ? `owned by ${h.holder}, renewed ${Math.round(h.ago)} ms ago; free once not renewed for ${h.ttl_ms} ms` : 'owned by another supervisor',
    holder: h?.holder ?? null,
    url: h?.holder_url ?? null,
  };
}

/** Who holds a store that could not be taken: `held` says it in words. */
export interface Held {
  held: string;
  holder: string | null;
  url: string | null;
}

/**
 * Opens a commit's transaction and, before anything is written, checks that the generation is
 * still ours; one round trip (a simple query of two statements). FOR SHARE waits for a
 * takeover in flight and then reads what it wrote, and keeps any takeover waiting until this
 * transaction ends, so no commit lands after a takeover.
 */
export async function beginFenced(client: PoolClient, target: Target, generation: number): Promise<void> {
  const results = (await client.query(`BEGIN; SELECT generation, holder FROM ${target.schema}.store WHERE id = 1 FOR SHARE`)) as unknown as QueryResult<{
    generation: string;
    holder: string | null;
  }>[];
  const row = results[1]?.rows[0];
  if (row && Number(row.generation) === generation) return;
  throw ownershipLost(target.location, generation, row?.holder ?? null);
}

export function ownershipLost(location: string, generation: number, holder: string | null): StoreLockedError {
  const now = holder ? `; ${holder} owns it now` : '';
  return new StoreLockedError(location, `ownership lost: generation ${generation} was taken over${now}; nothing was written`);
}

/** Gives ownership up (if still ours) so the next opener takes it at once. */
export async function releaseOwnership(pool: Pool, target: Target, generation: number): Promise<void> {
  await pool.query(`UPDATE ${target.schema}.store SET holder = NULL, holder_url = NULL, renewed_at = NULL WHERE id = 1 AND generation = $1`, [
    generation,
  ]);
}

/**
 * Renews ownership every third of the TTL on `clock` until stopped, telling the listeners after
 * each renewal. A renewal that finds the generation taken over marks it lost (and stops); one
 * that fails (database unreachable) is retried at the next turn, and once no renewal has
 * succeeded for the TTL (counted from when the last good one was sent, so surely expired on the
 * database's clock too) ownership is lost: another supervisor may have taken it.
 */
export function startRenewal(pool: Pool, target: Target, clock: Clock, initial: Ownership, openedAt: number, told: (ownership: Ownership) => void) {
  let state = initial;
  let timer: TimerHandle | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;
  let renewedFrom = openedAt;
  const tell = () => told(state);
  const lose = () => {
    if (state.lost) return;
    state = { ...state, lost: true };
    tell();
  };

  const renew = async () => {
    const sent = clock.now();
    try {
      const result = await pool.query<{ db_now: number }>(
        `UPDATE ${target.schema}.store SET renewed_at = clock_timestamp() WHERE id = 1 AND generation = $1 RETURNING ${dbNowMs}`,
        [state.generation],
      );
      const row = result.rows[0];
      if (state.lost || stopped) return;
      if (!row) return lose();
      renewedFrom = sent;
      state = { ...state, skewMs: row.db_now - clock.now() };
      tell();
    } catch {
      // Unreachable database: try again at the next turn. Commits fail meanwhile on their own.
      if (!stopped && clock.now() - renewedFrom >= target.ttlMs) lose();
    }
  };
  const arm = () => {
    if (stopped || state.lost) return;
    timer = clock.setTimeout(() => {
      timer = undefined;
      running = renew().finally(() => {
        running = undefined;
        arm();
      });
    }, Math.max(1, Math.floor(target.ttlMs / 3)));
  };
  arm();

  return {
    get ownership(): Ownership {
      return state;
    },
    markLost: lose,
    /** Stops renewing; resolves once a renewal in flight is done. */
    async stop(): Promise<void> {
      stopped = true;
      if (timer !== undefined) clock.clearTimeout(timer);
      timer = undefined;
      await running;
    },
  };
}

export type Renewal = ReturnType<typeof startRenewal>;
