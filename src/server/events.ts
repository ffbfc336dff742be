// `GET /v1/events`: the supervisor's lifecycle events as a Server-Sent Events stream, with
// resumable ids. Owns the event ids, the ring buffer of recent events (also read one task at a
// time, for `GET /v1/tasks/:id/events`), the open streams and their keep-alive timer; nothing
// here is durable (ids restart at 1 with each plugin instance, and a client resuming with an id
// from an earlier instance gets `reset`).
//
// Order and durability: the supervisor publishes a lifecycle event only once the change is
// on disk — tasks queue their events on the group commit's batch (src/supervisor/
// group-commit.ts `publish`), which delivers them to `sup.on` listeners after
// `store.commit` resolved, one batch at a time, in the order the steps emitted them. This
// module numbers events as they are delivered, so ids follow durability order, and every
// stream sees the same ids.
//
// Resume: each stream keeps a cursor (the last id it was sent) and pulls frames from the
// shared ring, so a backlog and the live events that arrive while it is written are one
// sequence: no gap, no duplicate. A stream whose socket buffer is full waits for `drain`
// without buffering more; one that falls so far behind that its next event has left the ring
// is dropped (socket destroyed) — it may reconnect with `Last-Event-ID` and gets `reset`.
// Memory is then the ring (shared) plus about one socket high-water mark per stream. The ring
// is bounded in events, not bytes: events are a few hundred bytes, but a `failed`, `released`
// or `quarantined` event carries its text (up to 10,000 characters), so the worst case at the
// default is about 100 MB.
//
// No authentication here: the route expects the server core's auth hook, which covers every
// `/v1` route (any token may read events).
import type { ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { LifecycleEvent } from '../../machines/task.types.js';
import { LIFECYCLE_EVENTS, type Supervisor } from '../supervisor/options.js';

export const DEFAULT_EVENT_BUFFER = 10_000;
export const KEEP_ALIVE_MS = 15_000;

export interface EventsOptions {
  sup: Supervisor;
  /** How many recent events a reconnecting client can resume from (default 10,000). */
  eventBuffer?: number;
  /** How often a `: keep-alive` comment goes to every stream (default 15 s, a real timer). */
  keepAliveMs?: number;
}

/** The last `capacity` SSE frames, by id (ids 1, 2, 3, … in publishing order). */
interface EventRing {
  readonly lastId: number;
  /** The oldest id still held (lastId + 1 when empty). */
  readonly oldestId: number;
  push(event: LifecycleEvent): number;
  frame(id: number): string;
  /** The task each held event is about, by id. */
  taskId(id: number): string;
}

/** One task's events still in the ring, oldest first, with their stream ids. */
export interface TaskEventLog {
  ofTask(taskId: string): { id: number; event: LifecycleEvent }[];
}

const DATA = '\ndata: ';

function createEventRing(capacity: number): EventRing {
  const frames: string[] = new Array<string>(capacity);
  // Beside the frames, so a task's events are found without parsing the others.
  const taskIds: string[] = new Array<string>(capacity);
  let lastId = 0;
  return {
    get lastId() {
      return lastId;
    },
    get oldestId() {
      return Math.max(1, lastId - capacity + 1);
    },
    push(event) {
      lastId++;
      frames[(lastId - 1) % capacity] = `id: ${lastId}\nevent: ${event.type}${DATA}${JSON.stringify(event)}\n\n`;
      taskIds[(lastId - 1) % capacity] = event.taskId;
      return lastId;
    },
    frame(id) {
      return frames[(id - 1) % capacity]!;
    },
    taskId(id) {
      return taskIds[(id - 1) % capacity]!;
    },
  };
}

/** One open stream: its response and the last id written to it. */
interface Stream {
  raw: ServerResponse;
  sent: number;
  /** Waiting for `drain`: nothing more is written until the socket takes it. */
  waiting: boolean;
}

/** The id a client says it has seen: the `Last-Event-ID` header, else `?lastEventId=`; undefined when neither. */
function lastSeenId(request: FastifyRequest): string | undefined {
  const header = request.headers['last-event-id'];
  if (typeof header === 'string' && header !== '') return header.trim();
  const query = request.query as { lastEventId?: unknown } | undefined;
  return typeof query?.lastEventId === 'string' && query.lastEventId !== '' ? query.lastEventId.trim() : undefined;
}

/**
 * Where a new stream starts: after `lastSeen` when the ring still holds everything after it;
 * otherwise (an id older than the ring, from an earlier instance, or not an id) with `reset`
 * and the whole ring. Without an id, live events only.
 */
function startOf(ring: EventRing, lastSeen: string | undefined): { from: number; reset: boolean } {
  if (lastSeen === undefined) return { from: ring.lastId, reset: false };
  const id = /^\d{1,15}$/.test(lastSeen) ? Number(lastSeen) : NaN;
  if (Number.isInteger(id) && id >= ring.oldestId - 1 && id <= ring.lastId) return { from: id, reset: false };
  return { from: ring.oldestId - 1, reset: true };
}

/**
 * Registers the stream; answers the reader of its ring, for `GET /v1/tasks/:id/events`. The
 * events are read back from their frames (a copy each: a caller cannot change the ring).
 */
export function registerEvents(app: FastifyInstance, options: EventsOptions): TaskEventLog {
  const { sup } = options;
  const capacity = options.eventBuffer ?? DEFAULT_EVENT_BUFFER;
  if (!Number.isSafeInteger(capacity) || capacity < 1) throw new TypeError('registerEvents: eventBuffer must be a positive integer');
  const keepAliveMs = options.keepAliveMs ?? KEEP_ALIVE_MS;
  if (!Number.isFinite(keepAliveMs) || keepAliveMs <= 0) throw new TypeError('registerEvents: keepAliveMs must be a positive number');

  const ring = createEventRing(capacity);
  const streams = new Set<Stream>();
  let closing = false;

  const drop = (stream: Stream) => {
    streams.delete(stream);
    stream.raw.destroy();
  };

  /** Writes what the stream has not been sent yet, until the socket's buffer is full. */
  const pump = (stream: Stream) => {
    if (!streams.has(stream)) return;
    if (stream.sent < ring.oldestId - 1) return drop(stream); // its next event left the ring
    while (!stream.waiting && stream.sent < ring.lastId) {
      stream.sent++;
      if (!stream.raw.write(ring.frame(stream.sent))) {
        stream.waiting = true;
        stream.raw.once('drain', () => {
          stream.waiting = false;
          pump(stream);
        });
      }
    }
  };

  const publish = (event: LifecycleEvent) => {
    ring.push(event);
    for (const stream of streams) pump(stream);
  };
  // One subscription per event type for this plugin instance; the supervisor delivers a
  // batch's events in order across types, so publishing order is kept.
  const unsubscribe = LIFECYCLE_EVENTS.map((type) => sup.on(type, publish));

  const keepAlive = setInterval(() => {
    for (const stream of streams) if (!stream.waiting) stream.raw.write(': keep-alive\n\n');
  }, keepAliveMs);
  keepAlive.unref();

  const endAll = () => {
    closing = true;
    clearInterval(keepAlive);
    for (const stream of streams) stream.raw.end();
    streams.clear();
  };
  // preClose, not only onClose: Fastify's own onClose step waits in `server.close()` for open
  // connections before later onClose hooks run, so streams must end before it.
  app.addHook('preClose', (done) => {
    endAll();
    done();
  });
  app.addHook('onClose', (_instance, done) => {
    endAll();
    for (const off of unsubscribe) off();
    done();
  });

  app.get('/v1/events', (request, reply) => {
    if (closing) return reply.code(503).send({ error: { code: 'SUPERVISOR_CLOSED', message: 'the server is closing' } });
    const { from, reset } = startOf(ring, lastSeenId(request));
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    raw.flushHeaders();
    const stream: Stream = { raw, sent: from, waiting: false };
    if (reset) raw.write(`event: reset\ndata: ${JSON.stringify({ oldestId: ring.oldestId })}\n\n`);
    streams.add(stream);
    raw.on('close', () => streams.delete(stream));
    pump(stream);
  });

  return {
    ofTask(taskId) {
      const found: { id: number; event: LifecycleEvent }[] = [];
      for (let id = ring.oldestId; id <= ring.lastId; id++) {
        if (ring.taskId(id) !== taskId) continue;
        const frame = ring.frame(id);
        found.push({ id, event: JSON.parse(frame.slice(frame.indexOf(DATA) + DATA.length, -2)) as LifecycleEvent });
      }
      return found;
    },
  };
}
