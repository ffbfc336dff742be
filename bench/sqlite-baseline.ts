// The baseline users would otherwise pick: leases as rows in SQLite (better-sqlite3, WAL,
// synchronous=FULL), one compare-and-set UPDATE per operation, each its own transaction, with
// the same owner/epoch fencing leasehold applies. Calls are synchronous: the 64 owners of W1
// share one thread and queue on the event loop. Expiry (W2, W3) is one Node timer per lease
// whose callback is another CAS UPDATE.
import Database from 'better-sqlite3';
import { PRIORITIES } from '../machines/task.types.js';
import type { BenchTask } from './tasks.js';

export interface SqliteLease {
  taskId: string;
  epoch: number;
  expiresAt: number;
}

const CLAIMABLE = "state IN ('planned', 'expired')";

export class SqliteLeases {
  readonly #db: Database.Database;
  readonly #timers = new Map<string, ReturnType<typeof setTimeout>>();
  readonly #statements;

  constructor(file: string) {
    this.#db = new Database(file);
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma('synchronous = FULL');
    this.#db.exec(`
      CREATE TABLE IF NOT EXISTS tasks (
        id TEXT PRIMARY KEY,
        spec TEXT NOT NULL,
        priority INTEGER NOT NULL,
        created INTEGER NOT NULL,
        state TEXT NOT NULL DEFAULT 'planned',
        owner TEXT,
        epoch INTEGER NOT NULL DEFAULT 0,
        attempts INTEGER NOT NULL DEFAULT 0,
        acquired_at INTEGER,
        expires_at INTEGER,
        heartbeat_at INTEGER,
        progress INTEGER NOT NULL DEFAULT 0,
        result TEXT
      );
      CREATE INDEX IF NOT EXISTS claim_order ON tasks (priority, created) WHERE ${CLAIMABLE};
    `);
    const grant = `state = 'leased', owner = @owner, epoch = epoch + 1, attempts = attempts + 1,
      acquired_at = @now, expires_at = @now + @leaseMs, heartbeat_at = @now`;
    this.#statements = {
      insert: this.#db.prepare('INSERT INTO tasks (id, spec, priority, created) VALUES (@id, @spec, @priority, @created)'),
      claimNext: this.#db.prepare(
        `UPDATE tasks SET ${grant}
         WHERE id = (SELECT id FROM tasks WHERE ${CLAIMABLE} ORDER BY priority, created LIMIT 1) AND ${CLAIMABLE}
         RETURNING id AS taskId, epoch, expires_at AS expiresAt`,
      ),
      claim: this.#db.prepare(`UPDATE tasks SET ${grant} WHERE id = @id AND ${CLAIMABLE} RETURNING id AS taskId, epoch, expires_at AS expiresAt`),
      heartbeat: this.#db.prepare(
        `UPDATE tasks SET expires_at = @now + @leaseMs, heartbeat_at = @now, progress = max(progress, @progress)
         WHERE id = @id AND owner = @owner AND epoch = @epoch AND state = 'leased' AND expires_at > @now AND @now + @leaseMs > expires_at
         RETURNING id AS taskId, epoch, expires_at AS expiresAt`,
      ),
      complete: this.#db.prepare(
        `UPDATE tasks SET state = 'completed', result = @result
         WHERE id = @id AND owner = @owner AND epoch = @epoch AND state = 'leased' AND expires_at > @now`,
      ),
      expire: this.#db.prepare(
        "UPDATE tasks SET state = 'expired' WHERE id = @id AND epoch = @epoch AND state = 'leased' AND expires_at <= @now",
      ),
      leased: this.#db.prepare("SELECT id AS taskId, epoch, expires_at AS expiresAt FROM tasks WHERE state = 'leased'"),
      count: this.#db.prepare('SELECT count(*) AS n FROM tasks WHERE state = ?').pluck(),
    };
  }

  /** Runs `work` as one transaction (one fsync): bulk set-up, never the measured calls of W1. */
  #transaction<T>(work: () => T): T {
    return this.#db.transaction(work)();
  }

  /** Bulk set-up: inserts the tasks in order, one transaction per `chunk` of them. */
  insertAll(tasks: readonly BenchTask[], chunk: number): void {
    for (let start = 0; start < tasks.length; start += chunk) {
      this.#transaction(() =>
        tasks.slice(start, start + chunk).forEach((task, offset) => {
          const priority = PRIORITIES.indexOf(task.priority);
          this.#statements.insert.run({ id: task.id, spec: JSON.stringify(task.spec), priority, created: start + offset });
        }),
      );
    }
  }

  /** Bulk set-up: claims tasks by id, one transaction per `chunk`, and arms each lease's expiry timer. */
  leaseAll(claims: readonly { id: string; owner: string; leaseMs: number }[], chunk: number, onExpired?: (lease: SqliteLease) => void): void {
    for (let start = 0; start < claims.length; start += chunk) {
      const leases = this.#transaction(() => claims.slice(start, start + chunk).map(({ id, owner, leaseMs }) => this.claim(id, owner, leaseMs)));
      for (const lease of leases) this.armExpiry(lease, onExpired);
    }
  }

  claimNext(owner: string, leaseMs: number, now = Date.now()): SqliteLease | null {
    return (this.#statements.claimNext.get({ owner, leaseMs, now }) as SqliteLease | undefined) ?? null;
  }

  claim(id: string, owner: string, leaseMs: number, now = Date.now()): SqliteLease {
    return orConflict(this.#statements.claim.get({ id, owner, leaseMs, now }) as SqliteLease | undefined, 'claim', id);
  }

  heartbeat(id: string, owner: string, epoch: number, leaseMs: number, progress: number, now = Date.now()): SqliteLease {
    return orConflict(this.#statements.heartbeat.get({ id, owner, epoch, leaseMs, progress, now }) as SqliteLease | undefined, 'heartbeat', id);
  }

  complete(id: string, owner: string, epoch: number, result: unknown, now = Date.now()): void {
    const { changes } = this.#statements.complete.run({ id, owner, epoch, result: JSON.stringify(result), now });
    if (changes !== 1) throw new Error(`sqlite baseline: complete refused for ${id}`);
  }

  /** Arms one Node timer per lease; at its deadline a CAS UPDATE marks the lease expired. */
  armExpiry(lease: SqliteLease, onExpired: (lease: SqliteLease) => void = () => {}): void {
    const fire = () => {
      const now = Date.now();
      // Node's timers run on the monotonic clock and may fire a millisecond before Date.now() reaches the deadline.
      if (now < lease.expiresAt) return this.#timers.set(lease.taskId, setTimeout(fire, lease.expiresAt - now));
      this.#timers.delete(lease.taskId);
      const { changes } = this.#statements.expire.run({ id: lease.taskId, epoch: lease.epoch, now });
      if (changes === 1) onExpired(lease);
    };
    this.#timers.set(lease.taskId, setTimeout(fire, Math.max(0, lease.expiresAt - Date.now())));
  }

  /** What a restart re-arms: every live lease. */
  leased(): SqliteLease[] {
    return this.#statements.leased.all() as SqliteLease[];
  }

  count(state: string): number {
    return this.#statements.count.get(state) as number;
  }

  close(): void {
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    this.#db.close();
  }
}

function orConflict(row: SqliteLease | undefined, what: string, id: string): SqliteLease {
  if (row === undefined) throw new Error(`sqlite baseline: ${what} refused for ${id}`);
  return row;
}
