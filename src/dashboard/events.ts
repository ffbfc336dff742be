// The lifecycle event stream for the page: `GET /v1/events` read through fetch (EventSource
// cannot send the Authorization header, and a token never goes in a URL), framed by the
// client's SSE decoder, reopened after a drop with `Last-Event-ID` so the server resumes
// right after the last event seen. A 401 signs the page out and ends the stream.
import { sseDecoder } from '../client/sse-frames.js';
import { signOut, storedToken } from './session.js';
import type { LifecycleEvent } from './types.js';

export type LiveStatus = 'open' | 'connecting' | 'closed';

export interface StreamHandlers {
  event(event: LifecycleEvent): void;
  /** The server could not resume (it restarted, or its buffer moved on): reload what is shown. */
  reset(): void;
  status(status: LiveStatus): void;
}

/** Waits between reconnections: short at first, then at most the last. */
const RECONNECT_MS = [250, 1_000, 2_000, 5_000];

export function openStream(handlers: StreamHandlers): () => void {
  const stop = new AbortController();
  let lastId: string | undefined;
  let failures = 0;

  async function follow() {
    const headers: Record<string, string> = { accept: 'text/event-stream', authorization: `Bearer ${storedToken() ?? ''}` };
    if (lastId !== undefined) headers['last-event-id'] = lastId;
    const response = await fetch('/v1/events', { headers, signal: stop.signal, cache: 'no-store' });
    if (response.status === 401) {
      signOut('The server refused the token (401). Sign in again.');
      return;
    }
    if (!response.ok || !response.body) throw new Error(`event stream: HTTP ${response.status}`);
    handlers.status('open');
    failures = 0;
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    const decode = sseDecoder();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      for (const frame of decode(value)) {
        if (frame.id !== undefined) lastId = frame.id;
        if (frame.event === 'reset') {
          handlers.reset();
          continue;
        }
        try {
          handlers.event(JSON.parse(frame.data) as LifecycleEvent);
        } catch {
          // A frame that is not an event's JSON: nothing to show for it.
        }
      }
    }
  }

  void (async () => {
    while (!stop.signal.aborted && storedToken()) {
      handlers.status('connecting');
      try {
        await follow();
      } catch {
        // Dropped or refused: try again below, unless stopped.
      }
      if (stop.signal.aborted || !storedToken()) break;
      const wait = RECONNECT_MS[Math.min(failures++, RECONNECT_MS.length - 1)]!;
      handlers.status('connecting');
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
    handlers.status('closed');
  })();

  return () => stop.abort();
}
