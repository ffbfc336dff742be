// Getting around the dashboard in a real browser: by keyboard alone (Tab from the page start
// reaches the nav, the diagram's states and the task table; Enter follows), signing in (a refused
// token is said so on the page; the token stays in the session), and the page talking to nothing
// but its own origin with the token never in a URL.
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import type { SupervisorStats } from '../../src/index.js';
import { ADMIN, SHOWN_MS, tabTo } from './browser.js';
import { useDashboard } from './fixture.js';
import { playScenario, scenarioOptions } from './scenario.js';

const dash = useDashboard();

const focusedHref = (page: Page) => page.evaluate(() => document.activeElement?.getAttribute('href') ?? null);

/** Rows the task table says it has for `hash`'s filter, by stats. */
function countFor(hash: string, stats: SupervisorStats): number {
  const query = new URLSearchParams(hash.slice(hash.indexOf('?') + 1));
  const state = query.get('state');
  const substate = query.get('substate');
  if (substate) return stats.bySubstate[substate] ?? 0;
  return state ? stats.byState[state as keyof SupervisorStats['byState']] : stats.total;
}

describe('dashboard: keyboard and sign-in', () => {
  it('Tab from the page start reaches a link in the task table, and Enter opens that task', async () => {
    const s = await dash.server(scenarioOptions);
    await playScenario(s.sup, s.clock);
    const { page, problems } = await dash.signedIn(s, ADMIN, '#/tasks');
    await page.locator('table[data-testid=task-table] tbody tr[data-task-id]').first().waitFor();
    // The token stays in the session: a reload starts the page over, signed in, focus at the start.
    expect(await page.evaluate(() => sessionStorage.getItem('leasehold.token'))).toBe(ADMIN);
    await page.reload();
    await page.locator('table[data-testid=task-table] tbody tr[data-task-id]').first().waitFor();
    expect(await page.locator('form[data-testid=token-form]').count()).toBe(0);

    expect(await tabTo(page, 'table[data-testid=task-table] tbody a[href]')).toBe(true);
    const href = await focusedHref(page);
    expect(href).toMatch(/^#\/tasks\/./);
    const id = decodeURIComponent(href!.slice('#/tasks/'.length));
    await page.keyboard.press('Enter');
    await page.locator(`[data-testid=task-page][data-task-id="${id}"]`).waitFor();
    expect(await page.title()).toBe(`Task ${id} — leasehold`);
    expect(problems).toEqual([]);
  });

  it('Tab reaches the nav links and a state of the diagram; Enter follows them', async () => {
    const s = await dash.server(scenarioOptions);
    await playScenario(s.sup, s.clock);
    for (const owner of ['agent-atlas', 'agent-birch']) await s.mint(owner);
    const { page, problems } = await dash.signedIn(s, ADMIN, '#/');
    await page.reload();
    await page.locator('[data-testid=diagram] svg').waitFor();

    expect(await tabTo(page, 'nav a[href="#/agents"]')).toBe(true);
    await page.keyboard.press('Enter');
    await page.locator('table[data-testid=agents-table] tr[data-owner="agent-atlas"]').waitFor();
    expect(await page.title()).toBe('Agents — leasehold');

    await page.evaluate(() => (location.hash = '#/'));
    await page.reload();
    await page.locator('[data-testid=diagram] svg').waitFor();
    const stateNode = '[data-testid=diagram] [tabindex="0"][role=link]';
    expect(await page.locator(stateNode).count()).toBeGreaterThanOrEqual(7);
    expect(await tabTo(page, stateNode)).toBe(true);
    await page.keyboard.press('Enter');
    await expect.poll(() => page.evaluate(() => location.hash), { timeout: SHOWN_MS }).toMatch(/^#\/tasks\?.*\b(state|substate)=/);
    const hash = await page.evaluate(() => location.hash);
    await expect.poll(() => page.getAttribute('table[data-testid=task-table]', 'data-total'), { timeout: SHOWN_MS }).toBe(String(countFor(hash, s.sup.stats())));
    expect(await page.title()).toBe('Tasks — leasehold');
    expect(problems).toEqual([]);
  });

  it('a refused token is said so on the sign-in page; the right one signs in; only the own origin is fetched, never with the token in a URL', async () => {
    const s = await dash.server();
    await s.sup.create({ id: 'job-1' });
    const { page, problems } = await dash.page();
    const requests: string[] = [];
    page.on('request', (request) => void requests.push(request.url()));
    await page.goto(`${s.url}/#/tasks`);
    const form = page.locator('form[data-testid=token-form]');
    await form.locator('input[name=token]').fill('not-a-token-anyone-minted-0000000');
    await form.locator('input[name=token]').press('Enter');
    await page.locator('[data-testid=token-error]').waitFor();
    expect(await page.title()).toBe('Sign in — leasehold');
    expect(await page.evaluate(() => sessionStorage.getItem('leasehold.token'))).toBeNull();

    await form.locator('input[name=token]').fill(ADMIN);
    await form.locator('input[name=token]').press('Enter');
    await page.locator('table[data-testid=task-table] tbody tr[data-task-id="job-1"]').waitFor();
    expect(await page.title()).toBe('Tasks — leasehold');
    expect(requests.length).toBeGreaterThan(0);
    expect(requests.filter((url) => !url.startsWith(`${s.url}/`) && !url.startsWith('data:'))).toEqual([]);
    expect(requests.filter((url) => url.includes(ADMIN) || url.includes('not-a-token'))).toEqual([]);
    // The browser itself reports the refused call (a 401 it fetched) on the console; nothing else may be logged.
    expect(problems.filter((problem) => !/Failed to load resource: .*\b401\b/.test(problem))).toEqual([]);
  });

  it('a token revoked while the page is open sends it back to the sign-in prompt', async () => {
    const s = await dash.server();
    await s.sup.create({ id: 'job-1' });
    const viewer = await s.mint('ops-viewer', 'viewer');
    const { page, problems } = await dash.signedIn(s, viewer, '#/tasks');
    await page.locator('table[data-testid=task-table] tbody tr[data-task-id="job-1"]').waitFor();
    expect((await s.api('DELETE', '/v1/agents/ops-viewer', ADMIN)).status).toBe(200);
    // A lifecycle event makes the page read the stats again: that call is refused.
    await s.sup.claim('job-1', { owner: 'agent-atlas' });
    await page.locator('form[data-testid=token-form]').waitFor();
    await expect.poll(() => page.title(), { timeout: SHOWN_MS }).toBe('Sign in — leasehold');
    expect(problems.filter((problem) => !/Failed to load resource: .*\b401\b/.test(problem))).toEqual([]);
  });
});
