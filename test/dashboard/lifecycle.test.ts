// The lifecycle view in a real browser: it loads (every view does) without a console error,
// its counts are the supervisor's stats, and it follows the work live over the event stream —
// a claim made through the client and a lease expiring on the test clock show up without reload.
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { connect } from '../../src/client/index.js';
import { TASK_STATES, type SupervisorStats } from '../../src/index.js';
import { ADMIN, SHOWN_MS, textOf } from './browser.js';
import { useDashboard } from './fixture.js';
import { AGENTS, playScenario, SCENARIO_TASKS, scenarioOptions } from './scenario.js';

const dash = useDashboard();

/** How soon a change must show: a bound on the page's reaction (events + throttled refetch), not a sleep. */
const LIVE_MS = 2_000;

/** The dotted leaf states the default (user) diagram draws; the folded ones may have no badge. */
const DRAWN_SUBSTATES = ['planned.ready', 'planned.backoff', 'stale.grace', 'stale.expired'];

const COUNTERS: Record<string, (stats: SupervisorStats) => number> = {
  total: (s) => s.total,
  expiringSoon: (s) => s.expiringSoon,
  stuck: (s) => s.stuck,
  lateHeartbeats: (s) => s.lateHeartbeats,
  graceExtensions: (s) => s.graceExtensions.total,
  reclaims: (s) => s.reclaims,
  spuriousReclaims: (s) => s.spuriousReclaims,
  quarantined: (s) => s.byState.quarantined,
};

/** Every `count-…` badge and `counter-…` on the page → its text. */
function badgesOn(page: Page): Promise<Record<string, string>> {
  return page.$$eval('[data-testid^="count-"], [data-testid^="counter-"]', (elements) =>
    Object.fromEntries(elements.map((element) => [element.getAttribute('data-testid')!, (element.textContent ?? '').trim()])),
  );
}

/** What a badge named `testid` must read by the contract. */
function expectedBadge(testid: string, stats: SupervisorStats): string {
  if (testid.startsWith('counter-')) {
    const counter = COUNTERS[testid.slice('counter-'.length)];
    return counter ? String(counter(stats)) : `(no such counter in the contract)`;
  }
  const path = testid.slice('count-'.length);
  const count = (TASK_STATES as readonly string[]).includes(path) ? stats.byState[path as keyof SupervisorStats['byState']] : stats.bySubstate[path];
  return String(count ?? 0);
}

/** The page's badges next to what stats say they must read: those the contract requires, and any other the page shows. */
async function compareBadges(page: Page, stats: SupervisorStats) {
  const shown = await badgesOn(page);
  const required = [...TASK_STATES.map((s) => `count-${s}`), ...DRAWN_SUBSTATES.map((p) => `count-${p}`), ...Object.keys(COUNTERS).map((c) => `counter-${c}`)];
  const names = [...new Set([...required, ...Object.keys(shown)])].sort();
  return {
    shown: Object.fromEntries(names.map((name) => [name, shown[name] ?? '(missing)'])),
    expected: Object.fromEntries(names.map((name) => [name, expectedBadge(name, stats)])),
  };
}

describe('dashboard: lifecycle', () => {
  it('loads with no console error or warning after visiting every view, each with its own <title>', async () => {
    const s = await dash.server(scenarioOptions);
    await playScenario(s.sup, s.clock);
    for (const owner of AGENTS) await s.mint(owner);
    const { page, problems } = await dash.page(`${s.url}/`);
    await page.locator('form[data-testid=token-form]').waitFor();
    expect(await page.title()).toBe('Sign in — leasehold');
    expect(await page.locator('form[data-testid=token-form] input[name=token]').getAttribute('type')).toBe('password');

    await page.locator('form[data-testid=token-form] input[name=token]').fill(ADMIN);
    await page.locator('form[data-testid=token-form] input[name=token]').press('Enter');
    await page.locator('[data-testid=diagram] svg').waitFor();
    expect(await textOf(page, '[data-testid=role]')).toContain('admin');
    expect(await page.title()).toBe('Lifecycle — leasehold');
    await expect.poll(() => page.getAttribute('[data-testid=live]', 'data-status'), { timeout: SHOWN_MS }).toBe('open');
    await page.locator('[data-testid=chart]').waitFor();

    await page.click('nav a[href="#/tasks"]');
    await page.locator('table[data-testid=task-table] tbody tr[data-task-id]').first().waitFor();
    expect(await page.title()).toBe('Tasks — leasehold');

    const id = SCENARIO_TASKS.handOff;
    await page.evaluate((hash) => (location.hash = hash), `#/tasks/${encodeURIComponent(id)}`);
    await page.locator(`[data-testid=task-page][data-task-id="${id}"]`).waitFor();
    expect(await page.title()).toBe(`Task ${id} — leasehold`);

    await page.click('nav a[href="#/agents"]');
    await page.locator('table[data-testid=agents-table] tr[data-owner="agent-atlas"]').waitFor();
    expect(await page.title()).toBe('Agents — leasehold');
    for (const owner of AGENTS) expect(await page.locator(`table[data-testid=agents-table] tr[data-owner="${owner}"]`).count()).toBe(1);

    await page.click('nav a[href="#/"]');
    await page.locator('[data-testid=diagram] svg').waitFor();
    expect(await page.title()).toBe('Lifecycle — leasehold');
    expect(problems).toEqual([]);
    expect(s.warnings).toEqual([]);
  });

  it('shows every state count and counter exactly as sup.stats() has them', async () => {
    const s = await dash.server(scenarioOptions);
    await playScenario(s.sup, s.clock);
    const { page, problems } = await dash.signedIn(s, ADMIN);
    await page.locator('[data-testid=diagram] svg').waitFor();
    const stats = s.sup.stats();
    // The scenario leaves most counters above zero, so a badge stuck at 0 cannot pass.
    expect([stats.byState.stale, stats.reclaims, stats.spuriousReclaims, stats.stuck, stats.lateHeartbeats, stats.byState.quarantined]).not.toContain(0);
    await expect.poll(async () => {
      const { shown, expected } = await compareBadges(page, stats);
      return JSON.stringify(shown) === JSON.stringify(expected) ? 'equal' : { shown, expected };
    }, { timeout: SHOWN_MS }).toBe('equal');
    expect(problems).toEqual([]);
  });

  it('a claim made through the client moves the counts within 2 s, without a reload', async () => {
    const s = await dash.server();
    await Promise.all(['a', 'b', 'c'].map((id) => s.sup.create({ id: `job-${id}` })));
    const agent = connect({ url: s.url, token: await s.mint('agent-atlas'), logger: { warn: () => {} } });
    try {
      const { page, problems } = await dash.signedIn(s, ADMIN);
      await expect.poll(() => textOf(page, '[data-testid="count-planned"]'), { timeout: SHOWN_MS }).toBe('3');
      await expect.poll(() => page.getAttribute('[data-testid=live]', 'data-status'), { timeout: SHOWN_MS }).toBe('open');
      await page.evaluate(() => ((window as unknown as { sameDocument: boolean }).sameDocument = true));

      const lease = await agent.claim('job-b');
      expect(lease.owner).toBe('agent-atlas');
      await expect.poll(() => textOf(page, '[data-testid="count-leased"]'), { timeout: LIVE_MS }).toBe('1');
      expect(await textOf(page, '[data-testid="count-planned"]')).toBe('2');
      await agent.complete('job-b', lease);
      await expect.poll(() => textOf(page, '[data-testid="count-completed"]'), { timeout: LIVE_MS }).toBe('1');
      expect(await textOf(page, '[data-testid="count-leased"]')).toBe('0');
      expect(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument)).toBe(true);
      expect(problems).toEqual([]);
    } finally {
      await agent.close();
    }
  });

  it('a lease expiring on the test clock shows up as stale: in the counts, the table and the task page', async () => {
    const s = await dash.server();
    await s.sup.create({ id: 'nightly/backup' });
    await s.sup.claim('nightly/backup', { owner: 'agent-birch', leaseMs: 60_000 });
    const { page, problems } = await dash.signedIn(s, ADMIN);
    await expect.poll(() => textOf(page, '[data-testid="count-leased"]'), { timeout: SHOWN_MS }).toBe('1');
    await expect.poll(() => page.getAttribute('[data-testid=live]', 'data-status'), { timeout: SHOWN_MS }).toBe('open');

    await s.clock.advance(60_000);
    expect(s.sup.get('nightly/backup')!.substate).toBe('stale.grace');
    await expect.poll(() => textOf(page, '[data-testid="count-stale"]'), { timeout: LIVE_MS }).toBe('1');
    expect(await textOf(page, '[data-testid="count-stale.grace"]')).toBe('1');
    expect(await textOf(page, '[data-testid="count-leased"]')).toBe('0');

    // Clicking the state in the diagram (the SVG's <title>task.stale.grace</title>) lists its tasks.
    const grace = page.locator('[data-testid=diagram] g.node', { has: page.locator('title', { hasText: /^task\.stale\.grace$/ }) });
    await grace.click();
    await expect.poll(() => page.evaluate(() => location.hash), { timeout: SHOWN_MS }).toMatch(/^#\/tasks\?(.*&)?substate=stale\.grace\b/);
    await expect.poll(() => page.getAttribute('table[data-testid=task-table]', 'data-total'), { timeout: SHOWN_MS }).toBe('1');
    await page.evaluate(() => (location.hash = '#/tasks?state=stale'));
    const row = page.locator('table[data-testid=task-table] tbody tr[data-task-id="nightly/backup"]');
    await row.waitFor();
    expect(await row.locator('td[data-col=state]').textContent()).toContain('stale');
    expect(await row.locator('td[data-col=owner]').textContent()).toContain('agent-birch');

    await page.evaluate((hash) => (location.hash = hash), `#/tasks/${encodeURIComponent('nightly/backup')}`);
    await expect.poll(() => textOf(page, '[data-testid=task-state]'), { timeout: SHOWN_MS }).toContain('stale.grace');
    expect(problems).toEqual([]);
  });
});
