// What `connect` is given and what it returns: the Client is the Supervisor's interface with
// the network in between — the same method names, arguments and results, but every read is
// async, `owner` may be left out (the token's), and `close()` ends the connections. Types only.
import type { LifecycleEventType, TaskState } from '../../machines/task.types.js';
import type { AgentActivity, Listener, Logger, OwnerProof, Supervisor, SupervisorStats, TaskPage, TaskQuery } from '../supervisor/options.js';
import type { Lease, TaskView } from '../task/view.js';

export type { AgentActivity, Lease, LifecycleEventType, Listener, Logger, SupervisorStats, TaskPage, TaskQuery, TaskState, TaskView };

export interface ConnectOptions {
  /** The daemon's base URL, `http://HOST:PORT` (as `serve()` and `leasehold serve` print it). */
  url?: string;
  /**
   * Several daemons, tried in order (issue 15's leader and standbys); `url`, when also given,
   * goes first. A call moves to the next one when a server cannot be reached or answers 503
   * `NOT_LEADER` (a standby: it changed nothing); a `leader` URL in that answer is tried next.
   */
  urls?: string[];
  /** The bearer token: an agent's (owner calls act for its owner), a viewer's, or the admin's. */
  token: string;
  /** How long one call may take, retries and failover included (default 30 s); then UNAVAILABLE. */
  timeoutMs?: number;
  /** Where the event stream reports what it cannot deliver (a listener that threw, a refused stream). Default console. */
  logger?: Logger;
}

/** An owner call's input: the library's, with `owner` optional (the token's). A whole Lease is a proof too. */
export type Owned<I> = Omit<I, 'owner'> & { owner?: string };

type OwnerCall<K extends keyof Supervisor> = Supervisor[K] extends (id: string, input: infer I) => infer R ? (id: string, input: Owned<I>) => R : never;

/** `list`'s filter: the library's own. */
export type ListFilter = NonNullable<Parameters<Supervisor['list']>[0]>;

/** An owner's activity as the service answers it: also whether it has a live agent token. */
export type AgentActivityWithToken = AgentActivity & { token: 'agent' | null };

/** What a token is (`GET /v1/whoami`): the admin's has no owner; an agent's or viewer's is bound to one. */
export type WhoAmI = { role: 'admin'; owner: null } | { role: 'agent' | 'viewer'; owner: string };

export interface Client {
  /** The admin token only. */
  create: Supervisor['create'];
  claim(id: string, input?: Owned<Parameters<Supervisor['claim']>[1]>): Promise<Lease>;
  claimNext(input?: Owned<Parameters<Supervisor['claimNext']>[0]>): Promise<Lease | null>;
  heartbeat: OwnerCall<'heartbeat'>;
  extend: OwnerCall<'extend'>;
  addCompensation: OwnerCall<'addCompensation'>;
  complete: OwnerCall<'complete'>;
  fail: OwnerCall<'fail'>;
  release: OwnerCall<'release'>;
  /** The calling token's role and owner (null for the admin). */
  whoami(): Promise<WhoAmI>;
  /** Renews every live lease of `owner` (default: the token's, see README "Client"). */
  touch(owner?: string): Promise<Lease[]>;
  /** The admin token only; `by` is recorded as "admin" whatever is given. */
  quarantine(id: string, input: { by?: string; reason: string }): Promise<TaskView>;
  annotate: Supervisor['annotate'];
  /** Undefined for an unknown task, as in the library (async here). */
  get(id: string): Promise<TaskView | undefined>;
  list(filter?: ListFilter): Promise<TaskView[]>;
  /** One page of tasks, filtered, sorted and windowed as by the library's `page` (`GET /v1/task-page`). */
  page(query?: TaskQuery): Promise<TaskPage>;
  /** What every owner holds and has done (`GET /v1/agents/activity`): `token` says whether it has a live agent token. */
  agents(): Promise<AgentActivityWithToken[]>;
  stats(): Promise<SupervisorStats>;
  /** Lifecycle events over Server-Sent Events; resumes after a dropped connection. Returns the unsubscribe. */
  on<T extends LifecycleEventType>(type: T, listener: Listener<T>): () => void;
  /** Ends the event stream and every keep-alive connection; calls in flight reject with UNAVAILABLE. */
  close(): Promise<void>;
}

/** The proof every owner call carries (re-exported for callers that build one). */
export type { OwnerProof };
