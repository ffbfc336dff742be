// The store contract: what any backing store (JSON file, memory, later a database) must do.
// A store persists task records opaquely; the supervisor owns their meaning.

/** One task as persisted: its machine state value and its context, both plain JSON. */
export interface TaskRecord {
  state: string | { [key: string]: unknown };
  context: { [key: string]: unknown };
}

export interface StoreContents {
  tasks: Map<string, TaskRecord>;
  /** The store's bookkeeping beside the tasks (absent: all zero). */
  meta?: StoreMeta;
}

/** What a store keeps beside its tasks, written atomically with the commit that changes it. */
export interface StoreMeta {
  /**
   * The highest epoch any task removed from the store reached (0: none was). A task created
   * later starts its epochs above it, so an id used again never repeats one of its old epochs.
   */
  epochFloor: number;
}

/** Changes to make durable together: a record to write, or `null` to delete that task. */
export type StoreChanges = ReadonlyMap<string, TaskRecord | null>;

export interface Store {
  /** Where the data lives, for error messages (`/path/store.json`, `memory`, `postgres://host/db#schema`). */
  readonly location: string;
  /**
   * Takes the store's exclusive lock and reads every task. Rejects with `STORE_LOCKED` when
   * another supervisor holds it and `STORE_CORRUPT` (file untouched) when the data does not
   * parse or validate.
   */
  open(): Promise<StoreContents>;
  /**
   * Applies the changes, and `meta` when given, atomically; resolves only once they are
   * durable (fsynced for files). A store that can lose its ownership while open (PostgreSQL)
   * rejects with `STORE_LOCKED` once it has, having written nothing.
   */
  commit(changes: StoreChanges, meta?: StoreMeta): Promise<void>;
  /** Releases the lock. Safe to call twice. */
  close(): Promise<void>;
  /**
   * Folds what the store keeps beside its main copy (a journal) into it; resolves once that is
   * durable. Only stores that have something to fold have it: the supervisor then schedules
   * it as the `compact` sweep.
   */
  compact?(): Promise<void>;

  // Stores another supervisor can take over (PostgreSQL) have the three below; a store without
  // them (files, memory) is owned for as long as it is open, and cannot host a standby.
  /** The ownership while open (undefined when closed): its generation, clock skew, and whether it was lost. */
  ownership?(): StoreOwnership | undefined;
  /**
   * Calls `listener` after every take and renewal of the ownership, and once when it is lost
   * (`lost` set: the generation was taken over, or renewals failed for longer than the TTL);
   * synchronously with the commit that finds it lost, before that commit rejects. Returns the
   * unsubscribe function.
   */
  onOwnership?(listener: (ownership: StoreOwnership) => void): () => void;
  /**
   * open(), waiting without a bound until the store can be taken over (free, or its owner
   * silent past its TTL). `waiting` is told who holds it (and any problem reaching it) each time
   * that changes. Rejects with `signal.reason` once `signal` aborts, having closed what it opened.
   */
  openWhenFree?(options: { signal: AbortSignal; waiting(holder: StoreHolder): void }): Promise<StoreContents>;
}

export interface StoreOwnership {
  /** The fencing token: bumped by every takeover. */
  readonly generation: number;
  /** The store's clock (the database's) minus this process's clock, measured at the last take or renewal, in ms. */
  readonly skewMs: number;
  /** Set once ownership is lost: nothing is written after. */
  readonly lost: boolean;
}

/** Who owns a store a standby waits for, as the store last saw it. */
export interface StoreHolder {
  /** Its name (`host:pid` by default); null when nobody holds it. */
  holder: string | null;
  /** The URL its daemon advertises (clients are sent there); null when none. */
  url: string | null;
  /** Why the store could not be reached at the last attempt, when it could not. */
  problem?: string;
}

