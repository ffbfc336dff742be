// The dashboard's reads through the client over real loopback HTTP: `page` answers what the
// library's page answers, numbers crossing as query text; `agents` joins the live agent tokens.
import { describe, expect, it } from 'vitest';
import { withClients } from './support.js';

const wire = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

describe('leasehold/client dashboard reads', () => {
  it('page: the library page over HTTP, bad query refused as INVALID_INPUT', async () => {
    const f = await withClients();
    for (let n = 0; n < 12; n++) await f.admin.create({ id: `task-${String(n).padStart(2, '0')}`, priority: n % 2 === 0 ? 'high' : 'low' });
    const alice = await f.agent('alice');
    await alice.claim('task-03');

    const query = { sort: 'priority', order: 'desc', offset: 5, limit: 4, search: 'TASK' } as const;
    const page = await alice.page(query);
    expect(page).toEqual(wire(f.sup.page(query)));
    expect(page.tasks.map((t) => t.id)).toEqual(['task-10', 'task-01', 'task-03', 'task-05']);
    expect(page.total).toBe(12);
    expect(await f.admin.page({ owner: 'alice' })).toMatchObject({ total: 1, tasks: [{ id: 'task-03' }] });
    expect((await f.admin.page()).tasks).toHaveLength(12);
    await expect(alice.page({ limit: 0 })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });

  it('agents: the owners with their activity and whether they hold a live agent token', async () => {
    const f = await withClients();
    await f.admin.create({ id: 'a' });
    const bob = await f.agent('bob');
    await f.agent('carol');
    const lease = await bob.claim('a');
    const agents = await f.admin.agents();
    expect(agents.map((a) => [a.owner, a.token, a.claims])).toEqual([
      ['bob', 'agent', 1],
      ['carol', 'agent', 0],
    ]);
    expect(agents[0]!.leases).toEqual([lease]);
  });
});
