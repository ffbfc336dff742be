// An HTTP read shows only what is durable: while a commit is in flight it answers what the store
// holds, so a completion whose write then fails (or is lost to a kill) was never shown. Found by
// the daemon kill -9 trials (their check that no answered read is undone by a kill failed ~1
// trial in 30 on the JSON store, ~1 in 10 on PostgreSQL, while reads answered from memory).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { createSupervisor, type Supervisor } from '../../src/index.js';
import { serve, type Server } from '../../src/server/index.js';
import { createTestClock } from '../../src/testing.js';
import { holdingStore } from '../support.js';
import { mintToken } from './support.js';

const ADMIN = 'read-durability-admin-token-0123';
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function waitUntil(done: () => boolean) {
  for (let polls = 0; !done(); polls++) {
    if (polls > 500) throw new Error('gave up waiting');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

it('an HTTP read shows only what is durable: not a completion whose commit is still in flight', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'leasehold-read-durability-'));
  const { store, held, state } = holdingStore(join(dir, 'store.json'));
  const sup: Supervisor = await createSupervisor({ store, clock: createTestClock(Date.UTC(2026, 0, 1)), schedule: false, logger: { warn: () => {} } });
  const server: Server = await serve(sup, { port: 0, adminToken: ADMIN, tokensFile: false, logger: { warn: () => {} } });
  cleanups.push(async () => {
    await server.close();
    await sup.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const token = await mintToken(server.url, ADMIN, 'agent-1');
  const call = (method: string, path: string, body?: unknown, bearer = ADMIN) =>
    fetch(`${server.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${bearer}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
  await call('POST', '/v1/tasks', { id: 't1' });
  const lease = (await (await call('POST', '/v1/tasks/t1/claim', {}, token)).json()) as { epoch: number };

  state.holding = true;
  const completing = call('POST', '/v1/tasks/t1/complete', { epoch: lease.epoch }, token);
  await waitUntil(() => held.length === 1);
  const during = (await (await call('GET', '/v1/tasks/t1')).json()) as { state: string };
  // Every read route answers the same durable state.
  expect(await (await call('GET', '/v1/tasks?state=completed')).json()).toEqual([]);
  expect(await (await call('GET', '/v1/task-page?state=leased')).json()).toMatchObject({ total: 1, tasks: [{ id: 't1', state: 'leased' }] });
  expect(await (await call('GET', '/v1/agents/activity')).json()).toMatchObject([{ owner: 'agent-1', completed: 0, leases: [{ taskId: 't1' }] }]);
  held[0]!.fail();
  expect((await completing).status).toBe(503); // the completion was refused: it never became durable
  const after = (await (await call('GET', '/v1/tasks/t1')).json()) as { state: string };
  expect(after.state).toBe('leased');
  // What the read showed while the commit was in flight: the store never kept it.
  expect(during.state).toBe('leased');
});
