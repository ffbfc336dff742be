// Daemon failover in one process: two supervisors on one PostgreSQL schema, each served over
// HTTP. The standby answers 503 NOT_LEADER naming the leader; a client given both follows the
// leader, and when the leader goes the standby takes over within the TTL and serves, with the
// stored lease's expiry re-armed and epochs growing across the takeover.
import { afterEach, describe, expect, it } from 'vitest';
import { connect, type Client } from '../../src/client/index.js';
import { createSupervisor, type Supervisor } from '../../src/index.js';
import { serve, type Server } from '../../src/server/index.js';
import { createTestClock } from '../../src/testing.js';
import { dropSchema, freshSchema, storeIn } from '../postgres/database.js';
import { T0 } from '../support.js';
import { freePort } from '../free-port.js';

const TTL_MS = 1_000;
const ADMIN = 'failover-admin-token-0123456789';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const quiet = { warn: () => {}, info: () => {} };

/** A supervisor on `schema` (standby when the store is held) served on a port of its own, advertising its URL. */
async function daemon(schema: string, holder: string, clock: ReturnType<typeof createTestClock>): Promise<{ sup: Supervisor; server: Server; url: string }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const sup = await createSupervisor({
    store: storeIn(schema, { holder, advertisedUrl: url, ownershipTtlMs: TTL_MS }),
    clock,
    standby: true,
    logger: quiet,
  });
  const server = await serve(sup, { port, adminToken: ADMIN, tokensFile: false, daemonFile: false, logger: quiet });
  cleanups.push(() => sup.close(), () => server.close());
  return { sup, server, url };
}

describe('daemon failover on PostgreSQL', () => {
  it('the standby answers NOT_LEADER naming the leader; clients follow; closing the leader hands over within the TTL', async () => {
    const schema = freshSchema('fo');
    cleanups.push(() => dropSchema(schema));
    const clock = createTestClock(T0, { awaitWork: false });
    const a = await daemon(schema, 'a', clock);
    const b = await daemon(schema, 'b', clock);
    expect([a.sup.role, b.sup.role]).toEqual(['leader', 'standby']);

    const refused = await fetch(`${b.url}/v1/tasks?state=leased`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(refused.headers.get('location')).toBe(`${a.url}/v1/tasks?state=leased`);
    expect(await refused.json()).toEqual({ error: { code: 'NOT_LEADER', message: expect.stringContaining(a.url) as string, leader: a.url } });
    // No token needed to be told where the leader is.
    expect((await fetch(`${b.url}/v1/stats`)).status).toBe(503);
    expect(await (await fetch(`${b.url}/healthz`)).json()).toEqual({ ok: true, role: 'standby', leader: a.url });
    expect(await (await fetch(`${a.url}/healthz`)).json()).toEqual({ ok: true });

    const client: Client = connect({ urls: [b.url, a.url], token: ADMIN, logger: quiet });
    cleanups.push(() => client.close());
    await client.create({ id: 't' });
    const lease = await client.claim('t', { owner: 'w', leaseMs: 30_000 });
    expect(a.sup.get('t')?.state).toBe('leased');

    const started = Date.now();
    await a.server.close();
    await a.sup.close();
    await b.sup.ready;
    const takeoverMs = Date.now() - started;
    expect(takeoverMs).toBeLessThan(TTL_MS + 2_000);
    expect(b.sup.role).toBe('leader');
    expect(await (await fetch(`${b.url}/healthz`)).json()).toEqual({ ok: true });

    // The client's calls go through to the new leader, on the lease the old one granted.
    await clock.advance(1_000);
    const renewed = await client.heartbeat('t', { owner: 'w', epoch: lease.epoch, progress: 40 });
    expect(renewed).toMatchObject({ epoch: lease.epoch, expiresAt: clock.now() + 30_000 });
    // The expiry timer is armed on the new leader: the lease runs out, grace ends, another claims it.
    await clock.advance(30_000);
    expect((await client.get('t'))?.state).toBe('stale');
    await clock.advance(60_000);
    const next = await client.claim('t', { owner: 'x' });
    expect(next.epoch).toBeGreaterThan(lease.epoch);
    expect(next.recovery).toMatchObject({ previousOwner: 'w', previousEpoch: lease.epoch });
  });

  it('a standby that takes over a silent leader: the deposed one refuses its fenced call with STORE_LOCKED, then sends clients on', async () => {
    const schema = freshSchema('fo');
    cleanups.push(() => dropSchema(schema));
    const clock = createTestClock(T0, { awaitWork: false });
    const frozen = createTestClock(T0, { awaitWork: false });
    // The leader renews on a clock nobody advances: as a paused process, it goes silent.
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const old = await createSupervisor({ store: storeIn(schema, { holder: 'a', advertisedUrl: url, ownershipTtlMs: TTL_MS, clock: frozen }), clock, logger: quiet });
    const oldServer = await serve(old, { port, adminToken: ADMIN, tokensFile: false, daemonFile: false, logger: quiet });
    cleanups.push(() => old.close(), () => oldServer.close());
    await old.create({ id: 't' });

    const b = await daemon(schema, 'b', clock);
    await b.sup.ready;
    const client = connect({ urls: [url, b.url], token: ADMIN, logger: quiet });
    cleanups.push(() => client.close());
    // The old leader still believes it leads: its commit is fenced, and the call refused.
    const refused = await client.claim('t', { owner: 'w' }).catch((error: { code: string }) => error.code);
    expect(refused).toBe('STORE_LOCKED');
    expect(old.role).toBe('deposed');
    expect([(await fetch(`${url}/healthz`)).status, await (await fetch(`${url}/healthz`)).json()]).toEqual([503, { ok: false, role: 'deposed' }]);
    const answer = await fetch(`${url}/v1/tasks`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect([answer.status, ((await answer.json()) as { error: { code: string } }).error.code]).toEqual([503, 'NOT_LEADER']);
    // The same client moves on to the new leader.
    const lease = await client.claim('t', { owner: 'w' });
    expect(lease.epoch).toBeGreaterThan(0);
    expect(b.sup.get('t')?.state).toBe('leased');
  });
});
