// One API call over HTTP: the request on a keep-alive connection, the per-call timeout, reads
// retried on connection errors, failover across the servers given, and the answer turned into
// its value or the LeaseholdError its body names (errors.ts errorFromBody).
//
// Node's own HTTP client (node:http with a keep-alive Agent) does the HTTP: Node 20's global
// fetch cannot be given a connection pool of its own without the undici package, and close()
// must end this client's sockets, not a process-wide pool's.
//
// Retries: a read (GET) is tried up to 3 times on a connection error, with a short backoff; a
// write is never sent twice, because a write whose answer was lost may have landed: the caller
// looks (get) and decides. A write moves to the next server only when nothing can have
// reached a supervisor: the connection was refused, or a standby answered NOT_LEADER.
import { Agent, request as httpRequest, type IncomingMessage } from 'node:http';
import { errorFromBody, UnavailableError } from '../errors.js';
import { baseOf, servers } from './servers.js';

export interface Call {
  method: 'GET' | 'POST' | 'DELETE';
  /** `/v1/tasks/a%20b/claim?…`: already encoded. */
  path: string;
  body?: unknown;
}

export interface Transport {
  /** The answer's JSON value, or throws the LeaseholdError the server answered with, or UNAVAILABLE. */
  call<T>(call: Call): Promise<T>;
  /** A response for a streaming GET (the event stream): the caller reads and ends it. */
  open(path: string, headers: Record<string, string>, signal: AbortSignal): Promise<IncomingMessage>;
  close(): void;
}

export interface TransportOptions {
  urls: string[];
  token: string;
  timeoutMs: number;
}

export const READ_TRIES = 3;
const BACKOFF_MS = [50, 200];

/** Errors raised before a request could reach any server. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);

/** No server reached (`sent: false`: the request surely changed nothing), or a broken connection. */
class ConnectionFailure extends Error {
  constructor(
    readonly url: string,
    readonly sent: boolean,
    cause: unknown,
  ) {
    super(`${url}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/** A standby's answer (issue 15): 503 NOT_LEADER, maybe naming the leader. */
class NotLeader extends Error {
  constructor(readonly leader: string | undefined) {
    super('not the leader');
  }
}

interface Answer {
  status: number;
  headers: IncomingMessage['headers'];
  body: unknown;
}

/** Waits `ms`, or less when `signal` aborts first (never rejects). */
export const delay = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });

export function createTransport({ urls, token, timeoutMs }: TransportOptions): Transport {
  const agent = new Agent({ keepAlive: true });
  const closing = new AbortController();
  const order = servers(urls);

  const headersFor = (extra: Record<string, string> = {}) => ({ authorization: `Bearer ${token}`, ...extra });

  /** One request to one server: the response, or a ConnectionFailure. */
  const send = (base: string, method: string, path: string, headers: Record<string, string>, payload: string | undefined, signal: AbortSignal) =>
    new Promise<IncomingMessage>((resolve, reject) => {
      let sent = false;
      const req = httpRequest(new URL(path, base), { method, agent, headers, signal });
      req.on('socket', (socket) => {
        if (!socket.connecting) sent = true; // a reused keep-alive socket: the bytes go out at once
        else socket.once('connect', () => (sent = true));
      });
      req.on('response', resolve);
      req.on('error', (error: NodeJS.ErrnoException) => {
        if (signal.aborted) return reject(signal.reason);
        reject(new ConnectionFailure(base, sent && !NOT_SENT.has(error.code ?? ''), error));
      });
      req.end(payload);
    });

  const read = async (response: IncomingMessage, base: string): Promise<Answer> => {
    let text = '';
    response.setEncoding('utf8');
    try {
      for await (const chunk of response) text += chunk as string;
    } catch (error) {
      throw new ConnectionFailure(base, true, error);
    }
    let body: unknown;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      body = undefined;
    }
    return { status: response.statusCode ?? 0, headers: response.headers, body };
  };

  /** Tries the servers in order until one answers; throws UNAVAILABLE when none does. */
  async function attempt<T>(label: string, signal: AbortSignal, isRead: boolean, once: (base: string) => Promise<T>): Promise<T> {
    const list = order.list();
    const failures: string[] = [];
    let mayHaveLanded = false;
    // A read goes round the servers at least READ_TRIES times in all; a write tries each once.
    for (let index = 0; index < (isRead ? Math.max(READ_TRIES, list.length) : list.length); index++) {
      if (index >= list.length) await delay(BACKOFF_MS[Math.min(index - list.length, BACKOFF_MS.length - 1)]!, signal);
      if (signal.aborted) break;
      const base = list[index % list.length]!;
      try {
        const value = await once(base);
        order.prefer(base);
        return value;
      } catch (error) {
        if (error instanceof NotLeader) {
          failures.push(`${base}: not the leader`);
          const leader = error.leader && baseOf(error.leader);
          if (leader && !list.slice(index + 1).includes(leader)) list.splice(index + 1, 0, leader);
          continue;
        }
        if (!(error instanceof ConnectionFailure)) {
          if (signal.aborted) break;
          throw error;
        }
        failures.push(error.message);
        if (error.sent) {
          mayHaveLanded = true;
          if (!isRead) break; // a write may have landed: never send it again
        }
      }
    }
    const why = closing.signal.aborted ? 'the client was closed' : signal.aborted ? `no answer within ${timeoutMs} ms` : failures.join('; ');
    const landed = isRead ? '' : mayHaveLanded || signal.aborted ? ' (the write may have landed: look before repeating it)' : ' (the write was not sent)';
    throw new UnavailableError(`${label}: ${why}${landed}`, failures.length > 0 ? new Error(failures.join('; ')) : undefined);
  }

  return {
    async call<T>({ method, path, body }: Call): Promise<T> {
      // A timer of our own rather than AbortSignal.timeout(): a timeout signal that only
      // AbortSignal.any refers to can be garbage-collected before it fires (seen on Node 20 as a
      // call that never timed out once the process allocated more), and the timer is cleared.
      const deadline = new AbortController();
      const timer = setTimeout(() => deadline.abort(new DOMException(`no answer within ${timeoutMs} ms`, 'TimeoutError')), timeoutMs);
      const signal = AbortSignal.any([closing.signal, deadline.signal]);
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const headers = headersFor(payload === undefined ? {} : { 'content-type': 'application/json' });
      const label = `${method} ${path.split('?')[0]}`;
      let answer: Answer;
      try {
        answer = await attempt(label, signal, method === 'GET', async (base) => {
          const response = await send(base, method, path, headers, payload, signal);
          return notFromStandby(await read(response, base));
        });
      } finally {
        clearTimeout(timer);
      }
      if (answer.status >= 200 && answer.status < 300) return (answer.body ?? null) as T;
      throw errorFromBody(answer.status, answer.body);
    },

    async open(path, headers, signal) {
      const both = AbortSignal.any([closing.signal, signal]);
      const response = await attempt(`GET ${path}`, both, true, async (base) => {
        const opened = await send(base, 'GET', path, headersFor(headers), undefined, both);
        if (opened.statusCode === 200) return opened;
        const answered = notFromStandby(await read(opened, base));
        throw errorFromBody(answered.status, answered.body);
      });
      return response;
    },

    close() {
      closing.abort(new UnavailableError('the client was closed'));
      agent.destroy();
    },
  };
}

/**
 * The answer as it is, unless a standby gave it (503 NOT_LEADER): then NotLeader, with the
 * leader it names in `error.leader` or its `Location` header.
 */
function notFromStandby(answer: Answer): Answer {
  const error = (answer.body as { error?: { code?: unknown; leader?: unknown } } | undefined)?.error;
  if (answer.status !== 503 || error?.code !== 'NOT_LEADER') return answer;
  const named = error.leader ?? answer.headers.location;
  throw new NotLeader(typeof named === 'string' && /^https?:\/\//.test(named) ? named : undefined);
}
