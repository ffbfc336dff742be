// The HTTP API v1 on real loopback HTTP: every status the contract names, each with its code,
// and a refused call changes nothing in the store.
import { describe, expect, it } from 'vitest';
import { ADMIN, served } from './support.js';

const errorOf = (answer: { body: { error?: { code?: string } } }) => answer.body?.error?.code;

describe('HTTP API v1: answers', () => {
  it('creates (201), claims, heartbeats, extends, adds a compensation, completes (200), and lists and gets', async () => {
    const s = await served();
    const alice = await s.mint('alice');
    const created = await s.call('POST', '/v1/tasks', { token: ADMIN, body: { id: 't1', labels: ['gpu'] } });
    expect([created.status, created.body.id, created.body.state]).toEqual([201, 't1', 'planned']);
    const lease = await s.call('POST', '/v1/tasks/t1/claim', { token: alice, body: { leaseMs: 60_000 } });
    expect([lease.status, lease.body.owner, lease.body.epoch]).toEqual([200, 'alice', 1]);
    await s.clock.advance(10_000);
    const beat = await s.call('POST', '/v1/tasks/t1/heartbeat', { token: alice, body: { epoch: 1, progress: 40, message: 'half' } });
    expect([beat.status, beat.body.expiresAt]).toEqual([200, s.clock.now() + 60_000]);
    const extended = await s.call('POST', '/v1/tasks/t1/extend', { token: alice, body: { epoch: 1, windowMs: 120_000 } });
    expect(extended.body.expiresAt).toBe(s.clock.now() + 120_000);
    const comp = await s.call('POST', '/v1/tasks/t1/compensations', { token: alice, body: { epoch: 1, action: 'undo', args: { n: 1 } } });
    expect(comp.body.compensations).toHaveLength(1);
    // A whole lease is a proof, as in-process.
    const listed = await s.call('GET', '/v1/tasks?owner=alice&label=gpu&state=leased', { token: alice });
    expect(listed.body.map((t: { id: string }) => t.id)).toEqual(['t1']);
    expect((await s.call('GET', '/v1/tasks?owner=bob', { token: alice })).body).toEqual([]);
    const done = await s.call('POST', '/v1/tasks/t1/complete', { token: alice, body: { ...lease.body, result: { ok: true } } });
    expect([done.status, done.body.state]).toEqual([200, 'completed']);
    expect(s.sup.get('t1')!.state).toBe('completed');
    const got = await s.call('GET', '/v1/tasks/t1', { token: alice });
    expect(got.body.terminal.state).toBe('completed');
    expect((await s.call('GET', '/v1/stats', { token: alice })).body.byState.completed).toBe(1);
  });

  it('claim-next answers a lease or null; fail and release answer the task; touch answers { leases }', async () => {
    const s = await served();
    const bob = await s.mint('bob');
    expect((await s.call('POST', '/v1/claim-next', { token: bob })).text).toBe('null');
    for (const id of ['a', 'b']) await s.call('POST', '/v1/tasks', { token: ADMIN, body: { id } });
    const a = (await s.call('POST', '/v1/claim-next', { token: bob, body: {} })).body;
    const b = (await s.call('POST', '/v1/claim-next', { token: bob, body: { labels: [] } })).body;
    const touched = await s.call('POST', '/v1/agents/bob/touch', { token: bob });
    expect(touched.body.leases.map((l: { taskId: string }) => l.taskId).sort()).toEqual(['a', 'b']);
    expect((await s.call('POST', `/v1/tasks/${a.taskId}/release`, { token: bob, body: { epoch: a.epoch, reason: 'later' } })).body.state).toBe('planned');
    expect((await s.call('POST', `/v1/tasks/${b.taskId}/fail`, { token: bob, body: { epoch: b.epoch, error: 'boom', retryable: true } })).body.state).toBe('planned');
    expect((await s.call('POST', '/v1/agents/bob/touch', { token: bob, body: {} })).body).toEqual({ leases: [] });
  });

  it('whoami answers any token its role and owner (null for the admin); no token is 401', async () => {
    const s = await served();
    const alice = await s.mint('alice');
    const viewer = await s.mint('dash', 'viewer');
    expect((await s.call('GET', '/v1/whoami', { token: alice })).body).toEqual({ role: 'agent', owner: 'alice' });
    expect((await s.call('GET', '/v1/whoami', { token: viewer })).body).toEqual({ role: 'viewer', owner: 'dash' });
    expect((await s.call('GET', '/v1/whoami', { token: ADMIN })).body).toEqual({ role: 'admin', owner: null });
    const anonymous = await s.call('GET', '/v1/whoami');
    expect([anonymous.status, errorOf(anonymous)]).toEqual([401, 'UNAUTHORIZED']);
  });

  it('the admin quarantines and annotates, and acts for an agent only when it names the owner', async () => {
    const s = await served();
    await s.call('POST', '/v1/tasks', { token: ADMIN, body: { id: 't' } });
    const missing = await s.call('POST', '/v1/tasks/t/claim', { token: ADMIN, body: {} });
    expect([missing.status, errorOf(missing), missing.body.error.issues]).toEqual([400, 'INVALID_INPUT', ['owner: required with the admin token']]);
    expect((await s.call('POST', '/v1/tasks/t/claim', { token: ADMIN, body: { owner: 'carol' } })).body.owner).toBe('carol');
    expect((await s.call('POST', '/v1/agents/carol/touch', { token: ADMIN })).body.leases).toHaveLength(1);
    expect((await s.call('POST', '/v1/tasks/t/annotate', { token: ADMIN, body: { metadata: { pr: 7 } } })).body.metadata).toEqual({ pr: 7 });
    const q = await s.call('POST', '/v1/tasks/t/quarantine', { token: ADMIN, body: { reason: 'looping' } });
    expect([q.status, q.body.state, q.body.terminal.by]).toEqual([200, 'quarantined', 'admin']);
  });

  it('health and the OpenAPI document need no token', async () => {
    const s = await served();
    expect((await s.call('GET', '/healthz')).body).toEqual({ ok: true });
    expect((await s.call('GET', '/v1/openapi.json')).status).toBe(200);
  });
});

describe('HTTP API v1: refusals', () => {
  it('400 INVALID_INPUT: malformed JSON, wrong types, unknown fields, a bad query, a non-JSON body — store unchanged', async () => {
    const s = await served();
    const alice = await s.mint('alice');
    await s.call('POST', '/v1/tasks', { token: ADMIN, body: { id: 't' } });
    await s.call('POST', '/v1/tasks/t/claim', { token: alice });
    const before = s.bytes();
    const cases = [
      await s.call('POST', '/v1/tasks/t/heartbeat', { token: alice, raw: '{"epoch":' }),
      await s.call('POST', '/v1/tasks/t/heartbeat', { token: alice, body: { epoch: 'one' } }),
      await s.call('POST', '/v1/tasks/t/heartbeat', { token: alice, body: { epoch: 1, sneaky: true } }),
      await s.call('POST', '/v1/tasks/t/heartbeat', { token: alice, body: { epoch: 1, progress: 101 } }),
      await s.call('POST', '/v1/tasks/t/heartbeat', { token: alice, raw: 'epoch=1', headers: { 'content-type': 'text/plain' } }),
      await s.call('POST', '/v1/tasks/t/heartbeat', { token: alice, raw: '{"epoch":1,"__proto__":{"x":1}}' }),
      await s.call('POST', '/v1/tasks', { token: ADMIN, body: { id: '' } }),
      await s.call('GET', '/v1/tasks?state=nope', { token: alice }),
      await s.call('GET', '/v1/tasks?color=red', { token: alice }),
    ];
    for (const answer of cases) {
      expect([answer.status, errorOf(answer)]).toEqual([400, 'INVALID_INPUT']);
      expect(Array.isArray(answer.body.error.issues)).toBe(true);
    }
    expect(cases[2]!.body.error.issues.join(' ')).toContain('sneaky');
    expect(s.bytes()).toBe(before);
  });

  it('401 UNAUTHORIZED: no token, an unknown one, a malformed header; the token is never echoed', async () => {
    const s = await served();
    const guess = 'not-a-real-token-but-a-secret-looking-one';
    for (const answer of [
      await s.call('GET', '/v1/tasks'),
      await s.call('GET', '/v1/tasks', { token: guess }),
      await s.call('GET', '/v1/tasks', { headers: { authorization: `Basic ${guess}` } }),
      await s.call('POST', '/v1/tasks', { token: guess, body: { id: 'x' } }),
    ]) {
      expect([answer.status, errorOf(answer)]).toEqual([401, 'UNAUTHORIZED']);
      expect(answer.text).not.toContain(guess);
    }
    expect(s.sup.list()).toEqual([]);
  });

  it('403 FORBIDDEN: a viewer writing, an agent on admin routes, an agent naming another owner', async () => {
    const s = await served();
    const viewer = await s.mint('dash', 'viewer');
    const alice = await s.mint('alice');
    await s.call('POST', '/v1/tasks', { token: ADMIN, body: { id: 't' } });
    const before = s.bytes();
    expect((await s.call('GET', '/v1/tasks/t', { token: viewer })).status).toBe(200);
    for (const answer of [
      await s.call('POST', '/v1/tasks/t/claim', { token: viewer }),
      await s.call('POST', '/v1/agents/dash/touch', { token: viewer }),
      await s.call('POST', '/v1/tasks', { token: alice, body: { id: 'u' } }),
      await s.call('POST', '/v1/tasks/t/quarantine', { token: alice, body: { reason: 'x' } }),
      await s.call('POST', '/v1/tasks/t/annotate', { token: alice, body: { metadata: {} } }),
      await s.call('POST', '/v1/agents', { token: alice, body: { owner: 'mallory' } }),
      await s.call('GET', '/v1/agents', { token: alice }),
      await s.call('DELETE', '/v1/agents/alice', { token: alice }),
      await s.call('POST', '/v1/tasks/t/claim', { token: alice, body: { owner: 'bob' } }),
      await s.call('POST', '/v1/claim-next', { token: alice, body: { owner: 'bob' } }),
      await s.call('POST', '/v1/agents/bob/touch', { token: alice }),
    ]) {
      expect([answer.status, errorOf(answer)]).toEqual([403, 'FORBIDDEN']);
    }
    expect(s.bytes()).toBe(before);
  });

  it('404: an unknown task, an unknown route (with a token), an unknown agent', async () => {
    const s = await served();
    const alice = await s.mint('alice');
    const task = await s.call('GET', '/v1/tasks/ghost', { token: alice });
    expect([task.status, errorOf(task)]).toEqual([404, 'TASK_NOT_FOUND']);
    const claim = await s.call('POST', '/v1/tasks/ghost/claim', { token: alice });
    expect([claim.status, errorOf(claim)]).toEqual([404, 'TASK_NOT_FOUND']);
    const route = await s.call('GET', '/v1/nowhere', { token: alice });
    expect([route.status, errorOf(route)]).toEqual([404, 'NOT_FOUND']);
    const untokened = await s.call('POST', '/v1/nowhere', { body: {} });
    expect([untokened.status, errorOf(untokened)]).toEqual([404, 'NOT_FOUND']);
    const outside = await s.call('GET', '/nowhere');
    expect([outside.status, errorOf(outside)]).toEqual([404, 'NOT_FOUND']);
    const agent = await s.call('DELETE', '/v1/agents/nobody', { token: ADMIN });
    expect([agent.status, errorOf(agent)]).toEqual([404, 'AGENT_NOT_FOUND']);
  });

  it('409: LEASE_CONFLICT with its reason, DUPLICATE_TASK, TERMINAL_TASK, DUPLICATE_AGENT', async () => {
    const s = await served();
    const alice = await s.mint('alice');
    const bob = await s.mint('bob');
    await s.call('POST', '/v1/tasks', { token: ADMIN, body: { id: 't' } });
    await s.call('POST', '/v1/tasks/t/claim', { token: alice });
    const held = await s.call('POST', '/v1/tasks/t/claim', { token: bob });
    expect([held.status, errorOf(held), held.body.error.reason]).toEqual([409, 'LEASE_CONFLICT', 'held']);
    const stale = await s.call('POST', '/v1/tasks/t/heartbeat', { token: alice, body: { epoch: 7 } });
    expect([stale.status, stale.body.error.reason]).toEqual([409, 'stale_epoch']);
    const notOwner = await s.call('POST', '/v1/tasks/t/complete', { token: bob, body: { epoch: 1 } });
    expect([notOwner.status, notOwner.body.error.reason]).toEqual([409, 'not_owner']);
    const dup = await s.call('POST', '/v1/tasks', { token: ADMIN, body: { id: 't' } });
    expect([dup.status, errorOf(dup)]).toEqual([409, 'DUPLICATE_TASK']);
    await s.call('POST', '/v1/tasks/t/complete', { token: alice, body: { epoch: 1 } });
    const terminal = await s.call('POST', '/v1/tasks/t/claim', { token: bob });
    expect([terminal.status, errorOf(terminal)]).toEqual([409, 'TERMINAL_TASK']);
    const again = await s.call('POST', '/v1/agents', { token: ADMIN, body: { owner: 'alice' } });
    expect([again.status, errorOf(again)]).toEqual([409, 'DUPLICATE_AGENT']);
    // A viewer token for the same owner is another role: allowed.
    expect((await s.call('POST', '/v1/agents', { token: ADMIN, body: { owner: 'alice', role: 'viewer' } })).status).toBe(201);
  });

  it('413 PAYLOAD_TOO_LARGE past the body limit, store unchanged', async () => {
    const s = await served({}, { bodyLimitBytes: 4_096 });
    const before = s.bytes();
    const big = await s.call('POST', '/v1/tasks', { token: ADMIN, body: { id: 'big', spec: 'x'.repeat(5_000) } });
    expect([big.status, errorOf(big)]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
    expect(s.sup.get('big')).toBeUndefined();
    expect(s.bytes()).toBe(before);
  });

  it('a port already in use is INVALID_INPUT naming it', async () => {
    const s = await served();
    const port = Number(new URL(s.url).port);
    const { serve } = await import('../../src/server/index.js');
    const refused = await serve(s.sup, { port, daemonFile: false, tokensFile: false }).then(
      () => undefined,
      (error: Error & { code?: string }) => error,
    );
    expect(refused?.code).toBe('INVALID_INPUT');
    expect(refused?.message).toContain(`127.0.0.1:${port}`);
  });

  it('503 SUPERVISOR_CLOSED once the supervisor is closed under a running server', async () => {
    const s = await served();
    const alice = await s.mint('alice');
    await s.sup.close();
    const answer = await s.call('POST', '/v1/claim-next', { token: alice });
    expect([answer.status, errorOf(answer)]).toEqual([503, 'SUPERVISOR_CLOSED']);
  });
});
