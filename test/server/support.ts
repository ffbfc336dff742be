// A supervisor on a real store file (test/support.ts harness, test clock) served on loopback
// with port 0, and a small fetch helper: what the server tests call through real HTTP.
import { afterEach } from 'vitest';
import { serve, type ServeOptions } from '../../src/server/index.js';
import type { SupervisorOptions } from '../../src/index.js';
import { harness, type Harness } from '../support.js';

const servers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of servers.splice(0).reverse()) await close();
});

export const ADMIN = 'admin-token-for-tests-0123456789';

/** Mints an agent token for `owner` through the admin route of the server at `url`. */
export async function mintToken(url: string, adminToken: string, owner: string): Promise<string> {
  const response = await fetch(`${url}/v1/agents`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ owner }),
    signal: AbortSignal.timeout(10_000),
  });
  if (response.status !== 201) throw new Error(`minting a token for ${owner}: HTTP ${response.status} ${await response.text()}`);
  return ((await response.json()) as { token: string }).token;
}

export interface Answer {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  text: string;
}

export interface Served extends Harness {
  url: string;
  /** One HTTP call: `body` is sent as JSON (or `raw` as is), with the bearer `token` when given. */
  call(method: string, path: string, options?: { token?: string; body?: unknown; raw?: string; headers?: Record<string, string> }): Promise<Answer>;
  /** Mints an agent (or viewer) token through the admin route. */
  mint(owner: string, role?: 'agent' | 'viewer'): Promise<string>;
  /** Restarts the supervisor and the server on the same files. */
  restartServer(): Promise<void>;
  closeServer(): Promise<void>;
}

export async function served(options: Partial<SupervisorOptions> = {}, serveOptions: ServeOptions = {}): Promise<Served> {
  const h = await harness(options);
  let server = await serve(h.sup, { port: 0, adminToken: ADMIN, logger: { warn: () => {} }, ...serveOptions });
  let closed = false;
  const close = async () => {
    if (!closed) await server.close();
    closed = true;
  };
  servers.push(close);
  const s: Served = Object.assign(h, {
    url: server.url,
    async call(method: string, path: string, o: { token?: string; body?: unknown; raw?: string; headers?: Record<string, string> } = {}) {
      const headers: Record<string, string> = { ...o.headers };
      if (o.token !== undefined) headers.authorization = `Bearer ${o.token}`;
      const payload = o.raw ?? (o.body === undefined ? undefined : JSON.stringify(o.body));
      if (payload !== undefined) headers['content-type'] ??= 'application/json';
      const response = await fetch(`${s.url}${path}`, { method, headers, ...(payload !== undefined && { body: payload }), signal: AbortSignal.timeout(10_000) });
      const text = await response.text();
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
      return { status: response.status, body, text };
    },
    async mint(owner: string, role: 'agent' | 'viewer' = 'agent') {
      const answer = await s.call('POST', '/v1/agents', { token: ADMIN, body: { owner, role } });
      if (answer.status !== 201) throw new Error(`mint failed: ${answer.text}`);
      return answer.body.token as string;
    },
    async restartServer() {
      await close();
      await h.restart();
      server = await serve(h.sup, { port: 0, adminToken: ADMIN, logger: { warn: () => {} }, ...serveOptions });
      closed = false;
      s.url = server.url;
    },
    closeServer: close,
  });
  return s;
}
