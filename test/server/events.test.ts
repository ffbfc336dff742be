// GET /v1/events on real loopback HTTP: lifecycle events in the order the calls were made and
// only once durable, increasing ids shared by every stream, resume with Last-Event-ID (or
// ?lastEventId=) without gap or duplicate, `reset` for an id older than the buffer, keep-alive
// comments, an expiry driven by the test clock, close() ending open streams, and a client that
// stops reading dropped once it falls behind the buffer.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { jsonFileStore, type Supervisor } from '../../src/index.js';
import { registerEvents } from '../../src/server/events.js';
import { openEvents, serveApp, supervisorOn, within, type SseFrame } from './plugin-support.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function eventsServer(sup: Supervisor, options: { eventBuffer?: number; keepAliveMs?: number } = {}) {
  const { app, url } = await serveApp((app) => registerEvents(app, { sup, ...options }));
  return { app, url: `${url}/v1/events` };
}

const brief = (frame: SseFrame) => {
  const data = JSON.parse(frame.data!) as { type: string; taskId: string };
  expect(data.type).toBe(frame.event);
  return `${frame.event} ${data.taskId}`;
};
const ids = (frames: SseFrame[]) => frames.map((frame) => Number(frame.id));

/** create + claim + complete of `id`: three calls, two events (claimed, completed). */
async function claimAndComplete(sup: Supervisor, id: string, owner = 'a') {
  await sup.create({ id });
  const lease = await sup.claim(id, { owner });
  await sup.complete(id, lease);
}

describe('GET /v1/events', () => {
  it('streams lifecycle events in call order, each already durable on disk, with increasing ids', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'leasehold-events-'));
    dirs.push(dir);
    const file = join(dir, 'store.json');
    const { sup, clock } = await supervisorOn(jsonFileStore(file, { journal: false }));
    const { url } = await eventsServer(sup);
    const sse = await openEvents(url);
    expect(sse.status).toBe(200);
    expect(sse.headers.get('content-type')).toMatch(/^text\/event-stream/);

    const stored = (id: string) => (JSON.parse(readFileSync(file, 'utf8')) as { tasks: Record<string, { state: unknown }> }).tasks[id]?.state;
    await sup.create({ id: 't1' });
    const lease = await sup.claim('t1', { owner: 'a' });
    const claimed = await sse.next('claimed');
    expect(brief(claimed)).toBe('claimed t1');
    expect(JSON.stringify(stored('t1'))).toContain('leased');
    await clock.advance(1_000);
    await sup.heartbeat('t1', { ...lease, progress: 50 });
    await sup.complete('t1', lease);
    const after = await sse.take(2);
    expect(after.map(brief)).toEqual(['heartbeat t1', 'completed t1']);
    expect(JSON.stringify(stored('t1'))).toContain('completed');

    await claimAndComplete(sup, 't2', 'b');
    const more = await sse.take(2);
    expect(more.map(brief)).toEqual(['claimed t2', 'completed t2']);
    expect(ids([claimed, ...after, ...more])).toEqual([1, 2, 3, 4, 5]);
  });

  it('gives every stream the same ids, and a late one only what comes after it connected', async () => {
    const { sup } = await supervisorOn();
    const { url } = await eventsServer(sup);
    const first = await openEvents(url);
    await claimAndComplete(sup, 't1');
    const second = await openEvents(url);
    await claimAndComplete(sup, 't2');
    expect(ids(await first.take(4))).toEqual([1, 2, 3, 4]);
    const late = await second.take(2);
    expect(ids(late)).toEqual([3, 4]);
    expect(late.map(brief)).toEqual(['claimed t2', 'completed t2']);
  });

  it('resumes after Last-Event-ID with exactly the missed events, then live ones', async () => {
    const { sup } = await supervisorOn();
    const { url } = await eventsServer(sup);
    const first = await openEvents(url);
    await claimAndComplete(sup, 't1');
    await claimAndComplete(sup, 't2');
    const seen = await first.take(2);
    await first.cancel();
    await claimAndComplete(sup, 't3'); // 5, 6 while disconnected

    const resumed = await openEvents(url, { 'last-event-id': seen[1]!.id! });
    const backlog = await resumed.take(4);
    expect(ids(backlog)).toEqual([3, 4, 5, 6]);
    expect(backlog.map(brief)).toEqual(['claimed t2', 'completed t2', 'claimed t3', 'completed t3']);
    await claimAndComplete(sup, 't4');
    expect(ids(await resumed.take(2))).toEqual([7, 8]);

    const byQuery = await openEvents(`${url}?lastEventId=6`);
    await claimAndComplete(sup, 't5');
    expect(ids(await byQuery.take(4))).toEqual([7, 8, 9, 10]);
  });

  it('has no gap and no duplicate when events arrive while the backlog is being written', async () => {
    const { sup } = await supervisorOn();
    const { url } = await eventsServer(sup, { eventBuffer: 5_000 });
    for (let i = 0; i < 300; i++) await sup.create({ id: `t${i}` });
    for (let i = 0; i < 150; i++) await sup.claim(`t${i}`, { owner: 'a' }); // ids 1..150 buffered
    const resumed = await openEvents(url, { 'last-event-id': '0' });
    // Claims keep landing while the 150-event backlog drains through the socket.
    const claims = Promise.all(Array.from({ length: 150 }, (_, i) => sup.claim(`t${150 + i}`, { owner: 'b' })));
    const frames = await resumed.take(300);
    await claims;
    expect(ids(frames)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    expect(new Set(frames.map(brief)).size).toBe(300);
  });

  it('starts with `reset` when the id is older than the buffer, then sends the buffer', async () => {
    const { sup } = await supervisorOn();
    const { url } = await eventsServer(sup, { eventBuffer: 3 });
    for (const id of ['t1', 't2', 't3']) await claimAndComplete(sup, id); // ids 1..6, ring holds 4..6
    const sse = await openEvents(url, { 'last-event-id': '2' });
    const reset = await sse.next('reset');
    expect(reset.event).toBe('reset');
    expect(JSON.parse(reset.data!)).toEqual({ oldestId: 4 });
    expect(ids(await sse.take(3))).toEqual([4, 5, 6]);

    // The last id before the ring's oldest is still a clean resume; an unknown id is a reset.
    const clean = await openEvents(url, { 'last-event-id': '3' });
    const future = await openEvents(url, { 'last-event-id': '99' });
    await claimAndComplete(sup, 't4');
    expect(ids(await clean.take(5))).toEqual([4, 5, 6, 7, 8]);
    expect((await future.next()).event).toBe('reset');
    expect(ids(await future.take(5))).toEqual([4, 5, 6, 7, 8]);
  });

  it('shows an expiry driven by the test clock as `expired`', async () => {
    const { sup, clock } = await supervisorOn();
    const { url } = await eventsServer(sup);
    const sse = await openEvents(url);
    await sup.create({ id: 't1' });
    await sup.claim('t1', { owner: 'a', leaseMs: 1_000 });
    expect((await sse.next()).event).toBe('claimed');
    await clock.advance(1_001);
    const expired = await sse.next('expired');
    expect(brief(expired)).toBe('expired t1');
    expect(JSON.parse(expired.data!)).toMatchObject({ type: 'expired', taskId: 't1', owner: 'a', epoch: 1 });
  });

  it('sends keep-alive comments', async () => {
    const { sup } = await supervisorOn();
    const { url } = await eventsServer(sup, { keepAliveMs: 20 });
    const sse = await openEvents(url);
    const frame = await sse.nextRaw('a keep-alive');
    expect(frame.comments).toEqual(['keep-alive']);
  });

  it('ends open streams when the app closes, and close() resolves', async () => {
    const { sup } = await supervisorOn();
    const { app, url } = await eventsServer(sup);
    const streams = [await openEvents(url), await openEvents(url)];
    await claimAndComplete(sup, 't1');
    for (const sse of streams) expect(ids(await sse.take(2))).toEqual([1, 2]);
    await within(app.close(), 'app.close()');
    for (const sse of streams) await sse.ended();
    // Unsubscribed: the supervisor goes on without the plugin.
    await claimAndComplete(sup, 't2');
  });

  it('drops a client that stops reading once its next event has left the buffer', async () => {
    const { sup } = await supervisorOn();
    const { url } = await eventsServer(sup, { eventBuffer: 8 });
    const { hostname, port } = new URL(url);
    const socket = connect({ host: hostname, port: Number(port) });
    await within(new Promise((resolve) => socket.once('connect', resolve)), 'the connection');
    socket.write(`GET /v1/events HTTP/1.1\r\nhost: ${hostname}\r\n\r\n`);
    // The response head arrives once the stream is registered; from then on the client never
    // reads: the kernel's buffers fill, then the server's socket buffer.
    const head = await within(new Promise<Buffer>((resolve) => socket.once('data', resolve)), 'the response head');
    expect(head.toString('latin1')).toMatch(/^HTTP\/1\.1 200/);
    socket.pause();
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => {});

    // ~10 kB per `failed` event; far more than loopback's socket buffers hold.
    const error = 'x'.repeat(10_000);
    const taskIds = Array.from({ length: 500 }, (_, i) => `t${i}`);
    await Promise.all(taskIds.map((id) => sup.create({ id })));
    const leases = await Promise.all(taskIds.map((id) => sup.claim(id, { owner: 'a' })));
    await Promise.all(leases.map((lease) => sup.fail(lease.taskId, { ...lease, error, retryable: false })));
    const received: string[] = [];
    socket.on('data', (chunk: Buffer) => received.push(chunk.toString('latin1')));
    socket.resume();
    await within(closed, 'the server to drop the slow client', 20_000);
    const text = received.join('');
    const lastId = Math.max(0, ...[...text.matchAll(/^id: (\d+)$/gm)].map((match) => Number(match[1])));
    expect(sup.stats().events.compensated).toBe(500); // 1,500 events published…
    expect(lastId).toBeLessThan(1_500); // …and the client never got the last: it was dropped, not served
  });
});
