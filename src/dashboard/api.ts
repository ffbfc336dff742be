// Calls to the HTTP API v1 from the page: the bearer token on every call, JSON in and out, a
// refusal as an ApiError carrying the API's code and message, and a 401 signs the page out
// (back to the token prompt). The shapes of the dashboard's reads (contract 14, part A).
import type { AgentActivityRow, Stats, Task, TaskPage, TaskRingEvents, WhoAmI } from './types.js';
import { signOut, storedToken } from './session.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly reason?: string,
  ) {
    super(message);
  }
}

/** What a failed call says on the page: the API's message, with its code. */
export const errorText = (error: unknown) =>
  error instanceof ApiError ? `${error.message} (${error.code}${error.reason ? `: ${error.reason}` : ''})` : error instanceof Error ? error.message : String(error);

async function refusal(response: Response): Promise<ApiError> {
  let body: { error?: { code?: string; message?: string; reason?: string } } | undefined;
  try {
    body = (await response.json()) as typeof body;
  } catch {
    body = undefined;
  }
  const error = body?.error;
  return new ApiError(response.status, error?.code ?? `HTTP_${response.status}`, error?.message ?? response.statusText ?? 'request failed', error?.reason);
}

/** One call; `token` overrides the stored one (signing in checks a token before keeping it). */
export async function call(method: 'GET' | 'POST', path: string, options: { body?: unknown; token?: string; signal?: AbortSignal; as?: 'json' | 'text' } = {}): Promise<unknown> {
  const token = options.token ?? storedToken();
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(path, {
    method,
    headers,
    ...(options.body !== undefined && { body: JSON.stringify(options.body) }),
    ...(options.signal && { signal: options.signal }),
    cache: 'no-store',
  });
  if (!response.ok) {
    const error = await refusal(response);
    if (response.status === 401 && options.token === undefined) signOut('The server refused the token (401). Sign in again.');
    throw error;
  }
  return options.as === 'text' ? response.text() : response.json();
}

const get = <T>(path: string, signal?: AbortSignal) => call('GET', path, signal ? { signal } : {}) as Promise<T>;

export const api = {
  whoami: (token?: string) => call('GET', '/v1/whoami', token === undefined ? {} : { token }) as Promise<WhoAmI>,
  stats: () => get<Stats>('/v1/stats'),
  taskPage: (query: URLSearchParams, signal?: AbortSignal) => get<TaskPage>(`/v1/task-page?${query.toString()}`, signal),
  task: (id: string, signal?: AbortSignal) => get<Task>(`/v1/tasks/${encodeURIComponent(id)}`, signal),
  taskEvents: (id: string, signal?: AbortSignal) => get<TaskRingEvents>(`/v1/tasks/${encodeURIComponent(id)}/events`, signal),
  agents: (signal?: AbortSignal) => get<AgentActivityRow[]>('/v1/agents/activity', signal),
  diagram: () => call('GET', '/v1/diagram.svg', { as: 'text' }) as Promise<string>,
  quarantine: (id: string, reason: string) => call('POST', `/v1/tasks/${encodeURIComponent(id)}/quarantine`, { body: { reason } }),
  annotate: (id: string, metadata: Record<string, unknown>) => call('POST', `/v1/tasks/${encodeURIComponent(id)}/annotate`, { body: { metadata } }),
};
