// An agent can only ever act as itself: its token names the owner of every call it makes.
// Tokens are kept hashed beside the store, survive a restart, and a revoked one is refused.
import { readFileSync, statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ADMIN, served } from './support.js';

describe('identity', () => {
  it.each(['heartbeat', 'extend', 'complete', 'fail', 'release', 'compensations'] as const)(
    "an agent token cannot %s another owner's lease: 403 naming the owner, 409 not naming it; store files byte-identical",
    async (call) => {
      const s = await served();
      const alice = await s.mint('alice');
      const mallory = await s.mint('mallory');
      await s.call('POST', '/v1/tasks', { token: ADMIN, body: { id: 't' } });
      const lease = (await s.call('POST', '/v1/tasks/t/claim', { token: alice })).body;
      await s.clock.advance(1_000);
      const extra = { heartbeat: {}, extend: { windowMs: 600_000 }, complete: {}, fail: { error: 'x' }, release: {}, compensations: { action: 'undo' } }[call];
      const before = `${s.bytes()}\n${readFileSync(`${s.file}.tokens.json`, 'utf8')}`;
      const posing = await s.call('POST', `/v1/tasks/t/${call}`, { token: mallory, body: { owner: 'alice', epoch: lease.epoch, ...extra } });
      expect([posing.status, posing.body.error.code]).toEqual([403, 'FORBIDDEN']);
      const whole = await s.call('POST', `/v1/tasks/t/${call}`, { token: mallory, body: { ...lease, ...extra } });
      expect([whole.status, whole.body.error.code]).toEqual([403, 'FORBIDDEN']);
      const plain = await s.call('POST', `/v1/tasks/t/${call}`, { token: mallory, body: { epoch: lease.epoch, ...extra } });
      expect([plain.status, plain.body.error.code, plain.body.error.reason]).toEqual([409, 'LEASE_CONFLICT', 'not_owner']);
      expect(`${s.bytes()}\n${readFileSync(`${s.file}.tokens.json`, 'utf8')}`).toBe(before);
      expect(s.sup.get('t')!.lease).toEqual(lease);
    },
  );

  it('a revoked token gets 401; the owner may be given a new one', async () => {
    const s = await served();
    const alice = await s.mint('alice');
    expect((await s.call('GET', '/v1/tasks', { token: alice })).status).toBe(200);
    const revoked = await s.call('DELETE', '/v1/agents/alice', { token: ADMIN });
    expect(revoked.body).toEqual({ owner: 'alice', revoked: 1 });
    const refused = await s.call('GET', '/v1/tasks', { token: alice });
    expect([refused.status, refused.body.error.code]).toEqual([401, 'UNAUTHORIZED']);
    const again = await s.mint('alice');
    expect(again).not.toBe(alice);
    expect((await s.call('GET', '/v1/tasks', { token: again })).status).toBe(200);
    expect((await s.call('GET', '/v1/agents', { token: ADMIN })).body).toEqual([{ owner: 'alice', role: 'agent', createdAt: expect.any(Number) }]);
  });

  it('tokens survive a restart; the tokens file (mode 0600) holds only their hashes', async () => {
    const s = await served();
    const alice = await s.mint('alice');
    const dash = await s.mint('dash', 'viewer');
    await s.call('DELETE', '/v1/agents/dash', { token: ADMIN });
    const file = `${s.file}.tokens.json`;
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain(alice);
    expect(text).not.toContain(dash);
    expect(text).not.toContain(ADMIN);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const document = JSON.parse(text) as { tokens: { hash: string; owner: string; revokedAt?: number }[] };
    expect(document.tokens.map((t) => [t.owner, /^[0-9a-f]{64}$/.test(t.hash), t.revokedAt !== undefined])).toEqual([
      ['alice', true, false],
      ['dash', true, true],
    ]);
    await s.restartServer();
    expect((await s.call('GET', '/v1/tasks', { token: alice })).status).toBe(200);
    expect((await s.call('GET', '/v1/tasks', { token: dash })).status).toBe(401);
  });

  it('a change made to the tokens file by another process (the CLI without a daemon) is honoured at once', async () => {
    const s = await served();
    const alice = await s.mint('alice');
    const { createTokenRegistry, newToken } = await import('../../src/server/tokens.js');
    const other = createTokenRegistry({ adminToken: newToken(), file: `${s.file}.tokens.json` });
    const { token: bob } = await other.mint('bob', 'agent');
    await other.revoke('alice');
    expect((await s.call('GET', '/v1/tasks', { token: alice })).status).toBe(401);
    expect((await s.call('GET', '/v1/tasks', { token: bob })).status).toBe(200);
    // And the server's own changes build on the file as it is now, losing none of the other's.
    await s.mint('carol');
    expect((await s.call('GET', '/v1/agents', { token: ADMIN })).body.map((a: { owner: string }) => a.owner)).toEqual(['bob', 'carol']);
  });

  it('a memory store keeps its tokens in memory, and writes no file', async () => {
    const { createSupervisor, memoryStore } = await import('../../src/index.js');
    const { serve } = await import('../../src/server/index.js');
    const sup = await createSupervisor({ store: memoryStore(), schedule: false });
    const server = await serve(sup, { port: 0, logger: { warn: () => {} } });
    try {
      const mint = await fetch(`${server.url}/v1/agents`, {
        method: 'POST',
        headers: { authorization: `Bearer ${server.adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ owner: 'a' }),
      });
      const { token } = (await mint.json()) as { token: string };
      const answer = await fetch(`${server.url}/v1/tasks`, { headers: { authorization: `Bearer ${token}` } });
      expect(answer.status).toBe(200);
      expect(server.adminToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    } finally {
      await server.close();
      await sup.close();
    }
  });

  it('a non-loopback host is served with a warning about TLS', async () => {
    const warnings: string[] = [];
    const s = await served({}, { host: '0.0.0.0', logger: { warn: (message) => void warnings.push(message) } });
    expect(s.url).toMatch(/^http:\/\/0\.0\.0\.0:\d+$/);
    expect(warnings.join('\n')).toContain('TLS');
  });
});
