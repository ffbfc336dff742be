// The dashboard's reads over real HTTP: GET /v1/task-page (the library's page, numbers read
// from the query string), GET /v1/agents/activity, GET /v1/tasks/:id/events (the SSE ring),
// GET /v1/diagram.svg — each with any token, none without one, 400 for a bad query.
import { describe, expect, it } from 'vitest';
import { openEvents } from './plugin-support.js';
import { ADMIN, served } from './support.js';

/** Three tasks, one leased by alice and heartbeating, one planned, one with a label. */
async function dashboard() {
  const s = await served({ defaults: { leaseMs: 60_000, graceMs: 10_000 } });
  const alice = await s.mint('alice');
  const viewer = await s.mint('watcher', 'viewer');
  for (const [id, labels] of [['job-A', ['web']], ['job-b', []], ['other', ['web']]] as const) {
    await s.call('POST', '/v1/tasks', { token: ADMIN, body: { id, labels } });
    await s.clock.advance(1_000);
  }
  const lease = (await s.call('POST', '/v1/tasks/job-b/claim', { token: alice, body: {} })).body;
  await s.clock.advance(1_000);
  await s.call('POST', '/v1/tasks/job-b/heartbeat', { token: alice, body: { epoch: lease.epoch, progress: 30 } });
  return { ...s, alice, viewer, lease };
}

describe('GET /v1/task-page', () => {
  it('answers the library page for any token, numbers read from the query string', async () => {
    const s = await dashboard();
    const page = await s.call('GET', '/v1/task-page?search=JOB&sort=id&order=desc&limit=1&offset=1', { token: s.viewer });
    expect(page.status).toBe(200);
    expect(page.body).toEqual(JSON.parse(JSON.stringify(s.sup.page({ search: 'JOB', sort: 'id', order: 'desc', limit: 1, offset: 1 }))));
    expect(page.body).toMatchObject({ total: 2, offset: 1, limit: 1, at: s.clock.now(), tasks: [{ id: 'job-A' }] });

    const leased = await s.call('GET', '/v1/task-page?state=leased&owner=alice', { token: s.alice });
    expect(leased.body).toMatchObject({ total: 1, offset: 0, limit: 50, tasks: [{ id: 'job-b', progress: 30 }] });
    const web = await s.call('GET', '/v1/task-page?label=web&substate=planned.ready&sort=createdAt', { token: ADMIN });
    expect(web.body.tasks.map((t: { id: string }) => t.id)).toEqual(['job-A', 'other']);
    expect((await s.call('GET', '/v1/task-page', { token: ADMIN })).body.total).toBe(3);
  });

  it('needs a token, and refuses a bad query with 400 INVALID_INPUT naming it', async () => {
    const s = await dashboard();
    expect((await s.call('GET', '/v1/task-page')).status).toBe(401);
    for (const query of ['limit=0', 'limit=501', 'limit=ten', 'limit=2.5', 'offset=-1', 'search=', 'sort=colour', 'order=up', 'state=nope', 'colour=red', `search=${'x'.repeat(201)}`, 'limit=1&limit=2']) {
      const answer = await s.call('GET', `/v1/task-page?${query}`, { token: s.alice });
      expect(answer.status, query).toBe(400);
      expect(answer.body.error.code).toBe('INVALID_INPUT');
      expect(answer.body.error.issues.length).toBeGreaterThan(0);
    }
  });
});

describe('GET /v1/agents/activity', () => {
  it('joins the live agent tokens (idle ones with zero counts) with the owners seen in the tasks; never a token', async () => {
    const s = await dashboard();
    await s.mint('idle');
    const ghost = await s.mint('ghost');
    // An owner seen only in the tasks (the admin acting for it): no token.
    await s.call('POST', '/v1/tasks/other/claim', { token: ADMIN, body: { owner: 'no-token' } });
    await s.call('DELETE', '/v1/agents/ghost', { token: ADMIN });
    const answer = await s.call('GET', '/v1/agents/activity', { token: s.viewer });
    expect(answer.status).toBe(200);
    expect(answer.body.map((a: { owner: string; token: unknown }) => [a.owner, a.token])).toEqual([
      ['alice', 'agent'],
      ['idle', 'agent'],
      ['no-token', null],
    ]);
    const library = JSON.parse(JSON.stringify(s.sup.agents()));
    expect(answer.body[0]).toEqual({ ...library[0], token: 'agent' });
    expect(answer.body[0]).toMatchObject({ claims: 1, leases: [{ taskId: 'job-b', owner: 'alice' }], lastHeartbeatAt: s.clock.now() });
    expect(answer.body[1]).toEqual({
      owner: 'idle', leases: [], lastHeartbeatAt: null, lastSeenAt: null, claims: 0, completed: 0, failed: 0, released: 0, reclaimedFrom: 0, token: 'agent',
    });
    expect(answer.body[2]).toEqual({ ...library[1], token: null });
    // The viewer "watcher" is not an agent; no token appears anywhere in the answer.
    expect(answer.text).not.toContain('watcher');
    for (const token of [s.alice, s.viewer, ghost, ADMIN]) expect(answer.text).not.toContain(token);
    expect((await s.call('GET', '/v1/agents/activity')).status).toBe(401);
  });
});

describe('GET /v1/tasks/:id/events', () => {
  it("answers the task's events in the stream's buffer, oldest first, with the stream's ids", async () => {
    const s = await dashboard();
    await s.call('POST', '/v1/tasks/job-A/claim', { token: s.alice, body: {} });
    await s.clock.advance(1_000);
    await s.call('POST', '/v1/tasks/job-b/complete', { token: s.alice, body: { epoch: s.lease.epoch } });

    const answer = await s.call('GET', `/v1/tasks/${encodeURIComponent('job-b')}/events`, { token: s.viewer });
    expect(answer.status).toBe(200);
    expect(answer.body.events.map((e: { id: number; event: { type: string } }) => [e.id, e.event.type])).toEqual([
      [1, 'claimed'],
      [2, 'heartbeat'],
      [4, 'completed'],
    ]);
    expect(answer.body.events[1].event).toMatchObject({ type: 'heartbeat', taskId: 'job-b', owner: 'alice', progress: 30 });

    // The same ids and events as the stream from its start.
    const stream = await openEvents(`${s.url}/v1/events`, { authorization: `Bearer ${s.viewer}`, 'last-event-id': '0' });
    const frames = await stream.take(4);
    const streamed = frames.map((frame) => ({ id: Number(frame.id), event: JSON.parse(frame.data!) }));
    expect(answer.body.events).toEqual(streamed.filter((e) => e.event.taskId === 'job-b'));
    expect((await s.call('GET', '/v1/tasks/job-A/events', { token: s.alice })).body.events).toEqual(streamed.filter((e) => e.event.taskId === 'job-A'));
    // A task with no event yet; an unknown task is 404; no token is 401.
    expect((await s.call('GET', '/v1/tasks/other/events', { token: ADMIN })).body).toEqual({ events: [] });
    const unknown = await s.call('GET', '/v1/tasks/nope/events', { token: ADMIN });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('TASK_NOT_FOUND');
    expect((await s.call('GET', '/v1/tasks/job-b/events')).status).toBe(401);
  });

  it('holds only what the buffer holds (eventBuffer)', async () => {
    const s = await served({}, { eventBuffer: 2 });
    await s.sup.create({ id: 'a' });
    const lease = await s.sup.claim('a', { owner: 'x' });
    await s.clock.advance(1_000);
    await s.sup.heartbeat('a', lease);
    await s.sup.complete('a', lease);
    const answer = await s.call('GET', '/v1/tasks/a/events', { token: ADMIN });
    expect(answer.body.events.map((e: { id: number; event: { type: string } }) => `${e.id} ${e.event.type}`)).toEqual(['2 heartbeat', '3 completed']);
  });
});

describe('GET /v1/diagram.svg', () => {
  it('draws the running task machine as SVG at each detail, user by default', async () => {
    const s = await served();
    const viewer = await s.mint('watcher', 'viewer');
    const svg = async (query: string) => {
      const response = await fetch(`${s.url}/v1/diagram.svg${query}`, { headers: { authorization: `Bearer ${viewer}` }, signal: AbortSignal.timeout(30_000) });
      expect(response.status, query).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^image\/svg\+xml/);
      return response.text();
    };
    const user = await svg('');
    expect(user).toMatch(/^(<\?xml[^>]*>\s*)?(<!DOCTYPE[^>]*>\s*)?(<!--[\s\S]*?-->\s*)*<svg/);
    expect(user).toContain('<title>task.stale.grace</title>');
    expect(user).toContain('<title>cluster_task.stale</title>');
    expect(user).toMatch(/<g id="[^"]*" class="node">\s*<title>task\.leased<\/title>/);
    expect(await svg('?detail=user')).toBe(user);
    const full = await svg('?detail=full');
    const compact = await svg('?detail=compact');
    expect(full).toContain('<title>task.stale.grace</title>');
    expect(full).not.toBe(user);
    expect(compact).not.toBe(full);
    // Rendered once per detail: the same text again.
    expect(await svg('?detail=full')).toBe(full);
  });

  it('refuses an unknown detail with 400, and needs a token', async () => {
    const s = await served();
    const bad = await s.call('GET', '/v1/diagram.svg?detail=huge', { token: ADMIN });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('INVALID_INPUT');
    expect((await s.call('GET', '/v1/diagram.svg')).status).toBe(401);
  });
});
