// The client when the network misbehaves, on loopback: a server that never answers (the
// per-call timeout), a closed port (reads retried, writes not), a connection broken mid-call,
// failover across `urls` (a dead server, a standby answering NOT_LEADER), and close().
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidInputError, UnavailableError } from '../../src/index.js';
import { rejection } from '../support.js';
import { ADMIN, connected, withClients } from './support.js';

const opened: (HttpServer | NetServer)[] = [];
const accepted = new Set<Socket>();
afterEach(async () => {
  for (const socket of accepted) socket.destroy();
  accepted.clear();
  for (const server of opened.splice(0)) await new Promise<void>((resolve) => server.close(() => resolve()));
});

async function listening<S extends HttpServer | NetServer>(server: S): Promise<{ server: S; url: string; port: number }> {
  opened.push(server);
  server.on('connection', (socket: Socket) => accepted.add(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { server, url: `http://127.0.0.1:${port}`, port };
}

/** A loopback port nothing listens on (bound, then closed). */
async function closedPort(): Promise<string> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

/** How many failures an UNAVAILABLE error lists (one per attempt). */
const attempts = (error: Error) => String((error.cause as Error | undefined)?.message ?? '').split('; ').length;

describe('leasehold/client on a bad network', () => {
  it('the per-call timeout fires against a server that accepts and never answers', async () => {
    const sockets: Socket[] = [];
    const { url } = await listening(createNetServer((socket) => sockets.push(socket.resume())));
    const client = connected({ url, token: ADMIN, timeoutMs: 150 });
    const started = performance.now();
    const read = await rejection(client.list());
    expect(read).toBeInstanceOf(UnavailableError);
    expect(read.code).toBe('UNAVAILABLE');
    expect(read.message).toContain('no answer within 150 ms');
    const write = await rejection(client.create({ id: 'x' }));
    expect(write.message).toContain('may have landed');
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(sockets.length).toBeGreaterThan(0);
  });

  it('reads are retried on a refused connection (3 tries), writes are not', async () => {
    const client = connected({ url: await closedPort(), token: ADMIN, timeoutMs: 5_000 });
    const read = await rejection(client.get('t'));
    expect(read).toBeInstanceOf(UnavailableError);
    expect(attempts(read)).toBe(3);
    expect(read.message).toContain('ECONNREFUSED');
    const write = await rejection(client.create({ id: 't' }));
    expect(write).toBeInstanceOf(UnavailableError);
    expect(attempts(write)).toBe(1);
    expect(write.message).toContain('the write was not sent');
  });

  it('a read whose connection breaks is retried and answered; a write is never sent twice', async () => {
    let requests = 0;
    const { url } = await listening(
      createHttpServer((request, response) => {
        requests++;
        if (requests === 1 || request.method === 'POST') return request.socket.destroy();
        response.writeHead(200, { 'content-type': 'application/json' }).end('[]');
      }),
    );
    const client = connected({ url, token: ADMIN, timeoutMs: 5_000 });
    expect(await client.list()).toEqual([]);
    expect(requests).toBe(2);
    const write = await rejection(client.create({ id: 't' }));
    expect(write).toBeInstanceOf(UnavailableError);
    expect(write.message).toContain('may have landed');
    expect(requests).toBe(3);
  });

  it('urls: calls fail over to the next server when the first is down, reads and writes alike', async () => {
    const f = await withClients();
    const client = connected({ urls: [await closedPort(), f.url], token: ADMIN });
    expect(await client.create({ id: 'failover' })).toEqual(JSON.parse(JSON.stringify(f.sup.get('failover'))));
    expect((await client.list()).map((t) => t.id)).toEqual(['failover']);
  });

  it('urls: a standby answering 503 NOT_LEADER with the leader URL is followed (issue 15)', async () => {
    const f = await withClients();
    let asked = 0;
    const standby = await listening(
      createHttpServer((_request, response) => {
        asked++;
        response
          .writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' })
          .end(JSON.stringify({ error: { code: 'NOT_LEADER', message: 'this supervisor is a standby', leader: f.url } }));
      }),
    );
    // The leader is not in the list: the standby names it.
    const client = connected({ urls: [standby.url, await closedPort()], token: ADMIN });
    expect((await client.create({ id: 'led' })).id).toBe('led');
    expect(asked).toBe(1);
    // The leader that answered is tried first from now on.
    expect((await client.get('led'))?.id).toBe('led');
    expect(asked).toBe(1);
  });

  it('close() rejects a call in flight with UNAVAILABLE and ends its connection', async () => {
    const closedSockets: Promise<void>[] = [];
    const { url } = await listening(createNetServer((socket) => closedSockets.push(new Promise((resolve) => socket.resume().on('close', () => resolve())))));
    const client = connected({ url, token: ADMIN });
    const pending = rejection(client.stats());
    await expect.poll(() => closedSockets.length, { timeout: 5_000 }).toBe(1);
    await client.close();
    const error = await pending;
    expect(error).toBeInstanceOf(UnavailableError);
    expect(error.message).toContain('the client was closed');
    await closedSockets[0];
  });

  it('calls share a keep-alive connection, and close() ends it', async () => {
    const connections: Promise<void>[] = [];
    const { server, url } = await listening(createHttpServer((_request, response) => response.writeHead(200, { 'content-type': 'application/json' }).end('[]')));
    server.on('connection', (socket: Socket) => connections.push(new Promise((resolve) => socket.on('close', () => resolve()))));
    const client = connected({ url, token: ADMIN });
    for (let i = 0; i < 3; i++) expect(await client.list()).toEqual([]);
    expect(connections).toHaveLength(1);
    await client.close();
    await connections[0]; // bounded by the test's timeout
  });

  it('touch() without an owner before any lease was granted asks the server whose token it is (whoami); connect checks its options', async () => {
    const f = await withClients();
    await f.admin.create({ id: 't' });
    await f.admin.claim('t', { owner: 'alice', leaseMs: 60_000 });
    await f.clock.advance(10_000);
    // No lease was granted through this client: touch() still names alice.
    const alice = await f.agent('alice');
    expect((await alice.touch()).map((lease) => [lease.taskId, lease.owner, lease.expiresAt])).toEqual([['t', 'alice', f.clock.now() + 60_000]]);
    expect(await alice.whoami()).toEqual({ role: 'agent', owner: 'alice' });
    // The admin's token has no owner: touch() needs one named.
    expect(await f.admin.whoami()).toEqual({ role: 'admin', owner: null });
    expect(await rejection(f.admin.touch())).toBeInstanceOf(InvalidInputError);
    expect((await f.admin.touch('alice')).map((lease) => lease.taskId)).toEqual(['t']);
    expect(() => connected({ token: ADMIN })).toThrow(InvalidInputError);
    expect(() => connected({ url: 'localhost:7411', token: ADMIN })).toThrow(/http:\/\/HOST:PORT/);
    expect(() => connected({ url: f.url, token: '' })).toThrow(/token/);
  });
});
