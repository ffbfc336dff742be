// sup.page(query): filters (each field, substate, a case-insensitive id search), every sort key
// in both orders (tasks without a lease last either way, ties by id), the window and the
// total, copies only, and INVALID_INPUT for a bad query.
import { describe, expect, it } from 'vitest';
import type { TaskQuery, TaskView } from '../../src/index.js';
import { harness, T0 } from '../support.js';

/**
 * Seven tasks: Alpha and beta share a creation time (a tie broken by id); gamma and epsilon
 * are alice's, delta is bob's (in grace), ALPHA-2 was carol's (completed, no lease), zeta failed
 * for dave and waits for its retry (no lease).
 */
async function fixture() {
  const h = await harness({ defaults: { leaseMs: 60_000, graceMs: 30_000, retryBackoffMs: 600_000 } });
  const { sup, clock } = h;
  await sup.create({ id: 'Alpha', priority: 'high', labels: ['web'] });
  await sup.create({ id: 'beta', priority: 'low', labels: ['db'] });
  await clock.advance(1_000);
  await sup.create({ id: 'gamma', priority: 'critical', labels: ['web', 'db'] });
  await clock.advance(1_000);
  await sup.create({ id: 'delta' });
  await sup.create({ id: 'ALPHA-2', labels: ['web'] });
  await clock.advance(1_000);
  await sup.create({ id: 'epsilon', priority: 'low' });
  await sup.create({ id: 'zeta', priority: 'high' });

  const gamma = await sup.claim('gamma', { owner: 'alice', leaseMs: 120_000 });
  await sup.claim('epsilon', { owner: 'alice', leaseMs: 90_000 });
  await sup.claim('delta', { owner: 'bob', leaseMs: 5_000 });
  const alpha2 = await sup.claim('ALPHA-2', { owner: 'carol' });
  await sup.complete('ALPHA-2', alpha2);
  const zeta = await sup.claim('zeta', { owner: 'dave' });
  await sup.fail('zeta', { ...zeta, error: 'flaky', retryable: true });
  await clock.advance(1_000);
  await sup.heartbeat('gamma', { ...gamma, leaseMs: 120_000, progress: 40 });
  await clock.advance(5_000);
  return h;
}

const ids = (tasks: TaskView[]) => tasks.map((task) => task.id);

/** The refusal a synchronous call throws. */
function refusal(call: () => unknown): { code: string; message: string } {
  try {
    call();
  } catch (error) {
    return error as { code: string; message: string };
  }
  throw new Error('expected the call to throw');
}

describe('sup.page', () => {
  it('answers the first 50 by creation (ties by id), with the clock time and the total', async () => {
    const { sup, clock } = await fixture();
    expect(sup.get('delta')!.substate).toBe('stale.grace');
    const page = sup.page();
    expect(page.at).toBe(clock.now());
    expect(page).toMatchObject({ total: 7, offset: 0, limit: 50 });
    expect(ids(page.tasks)).toEqual(['Alpha', 'beta', 'gamma', 'ALPHA-2', 'delta', 'epsilon', 'zeta']);
    expect(page.tasks).toEqual(page.tasks.map((task) => sup.get(task.id)));
    expect(sup.page({})).toEqual(page);
  });

  it('filters by state, substate, owner, label and id search (case-insensitive), all given holding', async () => {
    const { sup } = await fixture();
    const matching = (query: TaskQuery) => {
      const page = sup.page({ ...query, sort: 'id' });
      expect(page.total).toBe(page.tasks.length);
      return ids(page.tasks);
    };
    expect(matching({ state: 'leased' })).toEqual(['epsilon', 'gamma']);
    expect(matching({ state: 'stale' })).toEqual(['delta']);
    expect(matching({ state: 'planned' })).toEqual(['Alpha', 'beta', 'zeta']);
    expect(matching({ substate: 'stale.grace' })).toEqual(['delta']);
    expect(matching({ substate: 'planned.backoff' })).toEqual(['zeta']);
    expect(matching({ substate: 'planned.ready' })).toEqual(['Alpha', 'beta']);
    expect(matching({ substate: 'completed' })).toEqual(['ALPHA-2']);
    // A substate is a whole path: a prefix of one matches nothing.
    expect(matching({ substate: 'stale' })).toEqual([]);
    expect(matching({ state: 'leased', substate: 'stale.grace' })).toEqual([]);
    expect(matching({ owner: 'alice' })).toEqual(['epsilon', 'gamma']);
    expect(matching({ owner: 'bob' })).toEqual(['delta']);
    expect(matching({ owner: 'carol' })).toEqual([]);
    expect(matching({ label: 'web' })).toEqual(['ALPHA-2', 'Alpha', 'gamma']);
    expect(matching({ label: 'db', owner: 'alice' })).toEqual(['gamma']);
    expect(matching({ search: 'alpha' })).toEqual(['ALPHA-2', 'Alpha']);
    expect(matching({ search: 'LpHa-' })).toEqual(['ALPHA-2']);
    expect(matching({ search: 'ta' })).toEqual(['beta', 'delta', 'zeta']);
    expect(matching({ search: 'ta', state: 'planned' })).toEqual(['beta', 'zeta']);
    expect(matching({ search: 'nothing' })).toEqual([]);
  });

  it('sorts by owner and expiresAt with the tasks without a lease last in both orders, ties by id', async () => {
    const { sup } = await fixture();
    const sorted = (sort: TaskQuery['sort'], order?: 'asc' | 'desc') => ids(sup.page({ sort, ...(order && { order }) }).tasks);
    // No lease: Alpha, ALPHA-2, beta, zeta (by id); alice's two tie by owner and go by id.
    expect(sorted('owner')).toEqual(['epsilon', 'gamma', 'delta', 'ALPHA-2', 'Alpha', 'beta', 'zeta']);
    expect(sorted('owner', 'desc')).toEqual(['delta', 'epsilon', 'gamma', 'ALPHA-2', 'Alpha', 'beta', 'zeta']);
    // delta's lease (expired, in grace) ends first, then epsilon's, then gamma's.
    expect(sorted('expiresAt')).toEqual(['delta', 'epsilon', 'gamma', 'ALPHA-2', 'Alpha', 'beta', 'zeta']);
    expect(sorted('expiresAt', 'desc')).toEqual(['gamma', 'epsilon', 'delta', 'ALPHA-2', 'Alpha', 'beta', 'zeta']);
    expect(sorted('priority')).toEqual(['beta', 'epsilon', 'ALPHA-2', 'delta', 'Alpha', 'zeta', 'gamma']);
    expect(sorted('priority', 'desc')).toEqual(['gamma', 'Alpha', 'zeta', 'ALPHA-2', 'delta', 'beta', 'epsilon']);
    expect(sorted('createdAt', 'desc')).toEqual(['epsilon', 'zeta', 'ALPHA-2', 'delta', 'gamma', 'Alpha', 'beta']);
    // By the full path: completed, leased, planned.backoff, planned.ready, stale.grace.
    expect(sorted('state')).toEqual(['ALPHA-2', 'epsilon', 'gamma', 'zeta', 'Alpha', 'beta', 'delta']);
    expect(sorted('progress', 'desc')).toEqual(['gamma', 'ALPHA-2', 'Alpha', 'beta', 'delta', 'epsilon', 'zeta']);
  });

  it('sorts by every key in both orders as list() sorted in JS would', async () => {
    const { sup } = await fixture();
    const all = sup.list();
    const keyOf = (task: TaskView, sort: NonNullable<TaskQuery['sort']>): string | number | null => {
      const keys: Record<typeof sort, string | number | null> = {
        createdAt: task.createdAt,
        id: task.id,
        state: task.substate,
        owner: task.lease?.owner ?? null,
        priority: ['low', 'medium', 'high', 'critical'].indexOf(task.priority),
        attempts: task.attempts,
        progress: task.progress,
        expiresAt: task.lease?.expiresAt ?? null,
      };
      return keys[sort];
    };
    for (const sort of ['createdAt', 'id', 'state', 'owner', 'priority', 'attempts', 'progress', 'expiresAt'] as const) {
      for (const order of ['asc', 'desc'] as const) {
        const expected = [...all].sort((a, b) => {
          const [x, y] = [keyOf(a, sort), keyOf(b, sort)];
          if (x !== y) {
            if (x === null) return 1;
            if (y === null) return -1;
            if (x < y) return order === 'asc' ? -1 : 1;
            if (x > y) return order === 'asc' ? 1 : -1;
          }
          return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
        });
        expect(ids(sup.page({ sort, order }).tasks), `${sort} ${order}`).toEqual(ids(expected));
        // A window of two, anywhere, is the same slice.
        for (let offset = 0; offset < all.length; offset += 2) {
          expect(ids(sup.page({ sort, order, offset, limit: 2 }).tasks), `${sort} ${order} @${offset}`).toEqual(ids(expected.slice(offset, offset + 2)));
        }
      }
    }
  });

  it('windows the matches: offset and limit, the total of all matches, nothing past the end', async () => {
    const { sup } = await fixture();
    expect(sup.page({ sort: 'id', limit: 3 })).toMatchObject({ total: 7, offset: 0, limit: 3 });
    expect(ids(sup.page({ sort: 'id', limit: 3 }).tasks)).toEqual(['ALPHA-2', 'Alpha', 'beta']);
    expect(ids(sup.page({ sort: 'id', limit: 3, offset: 3 }).tasks)).toEqual(['delta', 'epsilon', 'gamma']);
    expect(ids(sup.page({ sort: 'id', limit: 3, offset: 6 }).tasks)).toEqual(['zeta']);
    expect(sup.page({ sort: 'id', limit: 3, offset: 7 })).toMatchObject({ total: 7, offset: 7, limit: 3, tasks: [] });
    expect(sup.page({ offset: 1_000_000 })).toMatchObject({ total: 7, tasks: [] });
    expect(sup.page({ state: 'planned', limit: 1, offset: 1 })).toMatchObject({ total: 3, tasks: [{ id: 'beta' }] });
  });

  it('pages a larger table the same whether the window is picked or the matches sorted whole', async () => {
    const { sup, clock } = await harness();
    // 300 tasks in scrambled id order, three of every creation time.
    for (let n = 0; n < 300; n++) {
      if (n % 3 === 0) await clock.advance(10);
      await sup.create({ id: `t${String((n * 7919) % 300).padStart(3, '0')}`, priority: (['low', 'high', 'medium'] as const)[n % 3] });
    }
    const whole = ids(sup.page({ sort: 'priority', order: 'desc', limit: 300 }).tasks);
    expect(whole).toHaveLength(300);
    const byPages: string[] = [];
    for (let offset = 0; offset < 300; offset += 7) byPages.push(...ids(sup.page({ sort: 'priority', order: 'desc', offset, limit: 7 }).tasks));
    expect(byPages).toEqual(whole);
    expect(ids(sup.page({ limit: 4 }).tasks)).toEqual(ids(sup.list().sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1)).slice(0, 4)));
    expect(sup.page({ limit: 4 }).tasks[0]!.createdAt).toBe(T0 + 10);
  });

  it('answers copies: changing an answer changes no task', async () => {
    const { sup } = await fixture();
    const [task] = sup.page({ search: 'gamma' }).tasks;
    task!.labels.push('mutated');
    task!.lease!.owner = 'mallory';
    expect(sup.get('gamma')!.labels).toEqual(['web', 'db']);
    expect(sup.get('gamma')!.lease!.owner).toBe('alice');
  });

  it('refuses a bad query with INVALID_INPUT', async () => {
    const { sup } = await fixture();
    const bad: unknown[] = [
      { limit: 0 },
      { limit: 501 },
      { limit: 1.5 },
      { limit: '10' },
      { offset: -1 },
      { offset: 0.5 },
      { search: '' },
      { search: 'x'.repeat(201) },
      { substate: '' },
      { sort: 'bogus' },
      { order: 'up' },
      { state: 'nope' },
      { owner: 3 },
      { unknown: true },
      null,
      'leased',
    ];
    for (const query of bad) {
      const error = refusal(() => sup.page(query as TaskQuery));
      expect(error.code, JSON.stringify(query)).toBe('INVALID_INPUT');
      expect(error.message).toContain('page query');
    }
    expect(sup.page({ limit: 500, search: 'x'.repeat(200) }).limit).toBe(500);
  });
});
