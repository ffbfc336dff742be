// Fixtures for the server plugin tests: a supervisor on the test clock, a bare Fastify app on
// loopback (closed after each test), and an SSE reader over Node's fetch that reads the body
// incrementally. Every wait is bounded.
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach } from 'vitest';
import { createSupervisor, memoryStore, type Store, type Supervisor } from '../../src/index.js';
import { createTestClock, type TestClock } from '../../src/testing.js';

export const T0 = Date.UTC(2026, 0, 1);
export const WAIT_MS = 5_000;

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

export async function supervisorOn(store: Store = memoryStore()): Promise<{ sup: Supervisor; clock: TestClock }> {
  const clock = createTestClock(T0);
  const sup = await createSupervisor({ store, clock, schedule: false, defaults: { graceMs: 0 } });
  cleanups.push(() => sup.close());
  return { sup, clock };
}

/** A bare Fastify app with `register` applied, listening on 127.0.0.1 at a free port. */
export async function serveApp(register: (app: FastifyInstance) => void): Promise<{ app: FastifyInstance; url: string }> {
  const app = Fastify();
  register(app);
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  cleanups.push(() => app.close());
  return { app, url };
}

/** Rejects after `ms` with `what` in the message; the timer never outlives the race. */
export async function within<T>(promise: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export interface SseFrame {
  id?: string;
  event?: string;
  data?: string;
  /** Comment lines (`: keep-alive`), without the colon. */
  comments: string[];
}

export interface SseReader {
  status: number;
  headers: Headers;
  /** The next frame that is not only a comment. */
  next(what?: string): Promise<SseFrame>;
  /** The next `n` frames that are not only comments. */
  take(n: number, what?: string): Promise<SseFrame[]>;
  /** The next frame, comments included. */
  nextRaw(what?: string): Promise<SseFrame>;
  /** Resolves when the server ended the body. */
  ended(): Promise<void>;
  cancel(): Promise<void>;
}

function parseFrame(block: string): SseFrame {
  const frame: SseFrame = { comments: [] };
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) frame.comments.push(line.slice(1).trim());
    else {
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'id' || field === 'event') frame[field] = value;
      else if (field === 'data') frame.data = frame.data === undefined ? value : `${frame.data}\n${value}`;
    }
  }
  return frame;
}

export async function openEvents(url: string, headers: Record<string, string> = {}): Promise<SseReader> {
  const abort = new AbortController();
  const response = await within(fetch(`${url}`, { headers, signal: abort.signal }), 'the event stream to open');
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = '';
  let done = false;
  const frames: SseFrame[] = [];
  const readFrame = async (): Promise<SseFrame | null> => {
    for (;;) {
      if (frames.length > 0) return frames.shift()!;
      if (done) return null;
      const chunk = await reader.read();
      if (chunk.done) done = true;
      else {
        text += chunk.value;
        let end: number;
        while ((end = text.indexOf('\n\n')) >= 0) {
          frames.push(parseFrame(text.slice(0, end)));
          text = text.slice(end + 2);
        }
      }
    }
  };
  const nextRaw = async (what = 'an SSE frame') => {
    const frame = await within(readFrame(), what);
    if (frame === null) throw new Error(`the stream ended while waiting for ${what}`);
    return frame;
  };
  const next = async (what = 'an SSE event') => {
    for (;;) {
      const frame = await nextRaw(what);
      if (frame.event !== undefined || frame.data !== undefined) return frame;
    }
  };
  const sse: SseReader = {
    status: response.status,
    headers: response.headers,
    nextRaw,
    next,
    async take(n, what = `${n} SSE events`) {
      const out: SseFrame[] = [];
      while (out.length < n) out.push(await next(what));
      return out;
    },
    ended: () =>
      within(
        (async () => {
          while ((await readFrame()) !== null);
        })(),
        'the stream to end',
      ),
    cancel: async () => {
      abort.abort();
      await reader.cancel().catch(() => {});
    },
  };
  cleanups.push(() => sse.cancel());
  return sse;
}
