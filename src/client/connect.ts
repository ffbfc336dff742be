// `connect(options)`: a Client whose every method is one route of the HTTP API v1 (see
// /v1/openapi.json), taking and giving the library's types. The owner of an owner call is the
// token's unless given (the server checks it); `touch()` without an owner names the token's,
// which the client learns from a lease granted without a named owner, or else asks the server
// once (`GET /v1/whoami`).
import type { LifecycleEvent } from '../../machines/task.types.js';
import { InvalidInputError } from '../errors.js';
import type { Lease, TaskView } from '../task/view.js';
import { createEventStream } from './events.js';
import { createTransport } from './transport.js';
import type { AgentActivityWithToken, Client, ConnectOptions, ListFilter, TaskPage, TaskQuery, WhoAmI } from './types.js';

export const DEFAULT_TIMEOUT_MS = 30_000;

const segment = encodeURIComponent;

function check(options: ConnectOptions): { urls: string[]; token: string; timeoutMs: number } {
  const issues: string[] = [];
  const given = options as Partial<ConnectOptions> | undefined;
  const urls = [...(given?.url === undefined ? [] : [given.url]), ...(given?.urls ?? [])];
  if (urls.length === 0) issues.push('url: required (or urls)');
  for (const url of urls) {
    if (typeof url !== 'string' || !/^https?:\/\/[^/]/.test(url)) issues.push(`url: expected http://HOST:PORT, got ${JSON.stringify(url)}`);
    else if (url.startsWith('https:')) issues.push(`url: https is not supported by this client yet (terminate TLS on the same host, or tunnel): ${url}`);
  }
  if (typeof given?.token !== 'string' || !/^\S+$/.test(given.token)) issues.push('token: expected the bearer token (no whitespace)');
  const timeoutMs = given?.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1) issues.push('timeoutMs: expected a positive integer');
  if (issues.length > 0) throw new InvalidInputError('connect options', issues);
  return { urls, token: given!.token!, timeoutMs };
}

/** `?a=1&b=x` of the fields given (none: empty); numbers as their text, which the server reads back. */
function queryString(fields: object): string {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(fields)) if (value !== undefined) query.set(key, String(value));
  return query.size > 0 ? `?${query}` : '';
}

export function connect(options: ConnectOptions): Client {
  const { urls, token, timeoutMs } = check(options);
  const transport = createTransport({ urls, token, timeoutMs });
  const events = createEventStream(transport, options.logger ?? console);
  /** The token's owner, once a lease granted for it told it. */
  let ownOwner: string | undefined;

  const get = <T>(path: string) => transport.call<T>({ method: 'GET', path });
  const post = <T>(path: string, body: unknown) => transport.call<T>({ method: 'POST', path, body });
  const task = (id: string, action = '') => `/v1/tasks/${segment(id)}${action}`;

  /** A lease granted without a named owner is the token's own. */
  const learn = <L extends Lease | null>(named: string | undefined, lease: L): L => {
    if (named === undefined && lease) ownOwner = lease.owner;
    return lease;
  };

  async function whoami() {
    const answer = await get<WhoAmI>('/v1/whoami');
    if (answer.owner !== null) ownOwner = answer.owner;
    return answer;
  }

  return {
    create: (input) => post<TaskView>('/v1/tasks', input),
    claim: async (id, input = {}) => learn(input.owner, await post<Lease>(task(id, '/claim'), input)),
    claimNext: async (input = {}) => learn(input.owner, await post<Lease | null>('/v1/claim-next', input)),
    heartbeat: (id, input) => post<Lease>(task(id, '/heartbeat'), input),
    extend: (id, input) => post<Lease>(task(id, '/extend'), input),
    addCompensation: (id, input) => post<TaskView>(task(id, '/compensations'), input),
    complete: (id, input) => post<TaskView>(task(id, '/complete'), input),
    fail: (id, input) => post<TaskView>(task(id, '/fail'), input),
    release: (id, input) => post<TaskView>(task(id, '/release'), input),
    whoami,
    async touch(given?: string) {
      const owner = given ?? ownOwner ?? (await whoami()).owner;
      // Only the admin's token has no owner: it acts for the agent it names.
      if (owner === null) throw new InvalidInputError('touch', ['owner: required with the admin token']);
      const answer = await post<{ leases: Lease[] }>(`/v1/agents/${segment(owner)}/touch`, {});
      return answer.leases;
    },
    quarantine: (id, { reason }) => post<TaskView>(task(id, '/quarantine'), { reason }),
    annotate: (id, metadata) => post<TaskView>(task(id, '/annotate'), { metadata }),
    async get(id) {
      try {
        return await get<TaskView>(task(id));
      } catch (error) {
        if ((error as { code?: unknown }).code === 'TASK_NOT_FOUND') return undefined;
        throw error;
      }
    },
    list: (filter: ListFilter = {}) => get<TaskView[]>(`/v1/tasks${queryString(filter)}`),
    page: (query: TaskQuery = {}) => get<TaskPage>(`/v1/task-page${queryString(query)}`),
    agents: () => get<AgentActivityWithToken[]>('/v1/agents/activity'),
    stats: () => get(`/v1/stats`),
    on: (type, listener) => events.on(type, listener as (event: LifecycleEvent) => void),
    async close() {
      events.close();
      transport.close();
    },
  };
}
