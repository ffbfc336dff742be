// `client.on(type, listener)`: the daemon's lifecycle events (`GET /v1/events`) delivered to
// listeners by type. One stream per client, opened with the first listener and ended with the
// last. A dropped connection is reopened with `Last-Event-ID` (the last id delivered), so the
// server resumes right after it: no gap, no duplicate (ids at or below it are skipped). When
// the server can no longer resume (its buffer moved past the id, or it restarted) it sends
// `reset` first, and the client takes what follows as new. Ephemeral: nothing survives close().
import type { LifecycleEvent, LifecycleEventType } from '../../machines/task.types.js';
import { LeaseholdError } from '../errors.js';
import type { Listener, Logger } from '../supervisor/options.js';
import { sseDecoder } from './sse-frames.js';
import { delay, type Transport } from './transport.js';

/** Waits between reconnections: short at first, then at most this. */
const RECONNECT_MS = [50, 250, 1_000, 2_000];

type AnyListener = (event: LifecycleEvent) => void;

export interface EventStream {
  on<T extends LifecycleEventType>(type: T, listener: Listener<T>): () => void;
  close(): void;
}

export function createEventStream(transport: Transport, logger: Logger): EventStream {
  const listeners = new Map<string, Set<AnyListener>>();
  let count = 0;
  /** The last id delivered: where a reconnection resumes. */
  let lastId: number | undefined;
  let running: AbortController | undefined;
  let closed = false;

  const deliver = (event: LifecycleEvent) => {
    for (const listener of [...(listeners.get(event.type) ?? [])]) {
      try {
        (listener as (event: LifecycleEvent) => unknown)(event);
      } catch (error) {
        logger.warn(`leasehold client: a listener of "${event.type}" threw`, error);
      }
    }
  };

  /** Reads one connection to its end; `opened` once the server accepted it. Resolves or throws when it ends. */
  async function follow(stop: AbortSignal, opened: () => void) {
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (lastId !== undefined) headers['last-event-id'] = String(lastId);
    const response = await transport.open('/v1/events', headers, stop);
    opened();
    const decode = sseDecoder();
    let reset = false;
    response.setEncoding('utf8');
    try {
      for await (const chunk of response) {
        for (const frame of decode(chunk as string)) {
          if (frame.event === 'reset') {
            reset = true;
            continue;
          }
          const id = frame.id === undefined ? undefined : Number(frame.id);
          if (id !== undefined && lastId !== undefined && id <= lastId && !reset) continue; // seen already
          reset = false;
          if (id !== undefined && Number.isSafeInteger(id)) lastId = id;
          let event: LifecycleEvent;
          try {
            event = JSON.parse(frame.data) as LifecycleEvent;
          } catch {
            logger.warn(`leasehold client: an event (id ${frame.id}) is not JSON; skipped`);
            continue;
          }
          deliver(event);
        }
      }
    } finally {
      response.destroy();
    }
  }

  async function run(stop: AbortSignal) {
    /** Openings that failed in a row: the wait before the next grows with them. */
    let failures = 0;
    while (!stop.aborted) {
      try {
        await follow(stop, () => (failures = 0));
      } catch (error) {
        if (stop.aborted) return;
        // The server refused the stream (a bad or revoked token, no such route): retrying cannot help.
        if (error instanceof LeaseholdError && error.code !== 'UNAVAILABLE' && !/^(STORE_|SUPERVISOR_|INTERNAL)/.test(error.code)) {
          logger.warn(`leasehold client: the event stream was refused (${error.code}): ${error.message}`);
          return;
        }
        failures++;
      }
      if (stop.aborted) return;
      await delay(RECONNECT_MS[Math.min(Math.max(failures - 1, 0), RECONNECT_MS.length - 1)]!, stop);
    }
  }

  const start = () => {
    running = new AbortController();
    void run(running.signal);
  };
  // A stream opened again later starts with live events, not with what no one listened to.
  const stop = () => {
    running?.abort();
    running = undefined;
    lastId = undefined;
  };

  return {
    on(type, listener) {
      if (closed) throw new LeaseholdError('UNAVAILABLE', 'the client is closed');
      const set = listeners.get(type) ?? new Set();
      listeners.set(type, set);
      const own = ((event: LifecycleEvent) => listener(event as never)) as AnyListener;
      set.add(own);
      if (count++ === 0) start();
      let subscribed = true;
      return () => {
        if (!subscribed) return;
        subscribed = false;
        set.delete(own);
        if (--count === 0) stop();
      };
    },
    close() {
      closed = true;
      stop();
      listeners.clear();
      count = 0;
    },
  };
}
