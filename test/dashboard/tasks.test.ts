// The task table over 10,000 tasks in a real browser: server-side paging, filters (state,
// owner, id text), sorting, and a URL that carries the filter so another page opened on it
// shows the same rows.
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { ADMIN, rowIds, signIn, SHOWN_MS } from './browser.js';
import { useDashboard } from './fixture.js';

const dash = useDashboard();

const TOTAL = 10_000;
const PAGE = 50;
const idOf = (n: number) => `task-${String(n).padStart(5, '0')}`;
/** Tasks leased to each owner: the first 30 multiples of 7 to alice, the next 20 to bob. */
const ALICE = Array.from({ length: 30 }, (_, i) => idOf(i * 7));
const BOB = Array.from({ length: 20 }, (_, i) => idOf((30 + i) * 7));

const TABLE = 'table[data-testid=task-table]';
const total = (page: Page) => page.getAttribute(TABLE, 'data-total');
const offset = (page: Page) => page.getAttribute(TABLE, 'data-offset');

/** Fills a filter field as a person would (typing fires input events; Enter submits where the form submits). */
async function filter(page: Page, name: string, value: string) {
  const field = page.locator(`form[data-testid=task-filters] [name=${name}]`);
  await field.fill(value);
  await field.press('Enter');
}

describe('dashboard: tasks at 10,000', () => {
  /** 10,000 tasks (every tenth labelled gpu), 50 of them leased; made for each test (about half a second). */
  async function tenThousand() {
    const s = await dash.server();
    const created: Promise<unknown>[] = [];
    for (let n = 0; n < TOTAL; n++) created.push(s.sup.create({ id: idOf(n), labels: n % 10 === 0 ? ['gpu'] : [], priority: n % 4 === 0 ? 'high' : 'medium' }));
    await Promise.all(created);
    await Promise.all([...ALICE.map((id) => s.sup.claim(id, { owner: 'alice' })), ...BOB.map((id) => s.sup.claim(id, { owner: 'bob' }))]);
    return s;
  }

  it('pages through 10,000 tasks 50 at a time, next and previous', async () => {
    const s = await tenThousand();
    const { page, problems } = await dash.signedIn(s, ADMIN, '#/tasks');
    await expect.poll(() => total(page), { timeout: SHOWN_MS }).toBe(String(TOTAL));
    // Created in the same instant of the test clock, so createdAt ties and ids break them.
    expect(await rowIds(page)).toEqual(Array.from({ length: PAGE }, (_, i) => idOf(i)));
    expect(await offset(page)).toBe('0');
    const info = (await page.textContent('[data-testid=page-info]')) ?? '';
    expect(info.replace(/[,\s\u202f\u00a0]/g, '')).toContain(String(TOTAL));

    await page.click('button[data-testid=next-page]');
    await expect.poll(() => offset(page), { timeout: SHOWN_MS }).toBe(String(PAGE));
    await expect.poll(() => rowIds(page), { timeout: SHOWN_MS }).toEqual(Array.from({ length: PAGE }, (_, i) => idOf(PAGE + i)));
    expect(await page.textContent('[data-testid=page-info]')).not.toBe(info);
    await page.click('button[data-testid=next-page]');
    await expect.poll(() => rowIds(page), { timeout: SHOWN_MS }).toEqual(Array.from({ length: PAGE }, (_, i) => idOf(2 * PAGE + i)));
    await page.click('button[data-testid=prev-page]');
    await expect.poll(() => rowIds(page), { timeout: SHOWN_MS }).toEqual(Array.from({ length: PAGE }, (_, i) => idOf(PAGE + i)));
    await page.click('button[data-testid=prev-page]');
    await expect.poll(() => offset(page), { timeout: SHOWN_MS }).toBe('0');
    expect(await page.isDisabled('button[data-testid=prev-page]')).toBe(true);
    // Each row has every column of the contract; the id links to the task page.
    const first = page.locator(`${TABLE} tbody tr[data-task-id="${idOf(0)}"]`);
    for (const col of ['id', 'state', 'owner', 'progress', 'lease', 'attempts', 'priority', 'labels']) expect(await first.locator(`td[data-col=${col}]`).count()).toBe(1);
    expect(await first.locator('td[data-col=id] a').getAttribute('href')).toBe(`#/tasks/${encodeURIComponent(idOf(0))}`);
    expect(await first.locator('td[data-col=owner]').textContent()).toContain('alice');
    // The lease countdown runs on its own (the server clock's offset plus the browser's time): within 3 s it has ticked.
    const countdown = first.locator('td[data-col=lease] [data-testid=countdown]');
    const shown = await countdown.textContent();
    await expect.poll(() => countdown.textContent(), { timeout: 3_000 }).not.toBe(shown);
    expect(await first.locator('td[data-col=labels]').textContent()).toContain('gpu');
    await page.click('nav a[href="#/"]');
    await expect.poll(() => page.textContent('[data-testid=counter-total]'), { timeout: SHOWN_MS }).toBe(String(TOTAL));
    expect(await page.textContent('[data-testid=count-leased]')).toBe(String(ALICE.length + BOB.length));
    expect(problems).toEqual([]);
  });

  it('filters by state, owner and id text, sorts, and the URL carries the filter to another page', async () => {
    const s = await tenThousand();
    const { page, problems } = await dash.signedIn(s, ADMIN, '#/tasks');
    await expect.poll(() => total(page), { timeout: SHOWN_MS }).toBe(String(TOTAL));

    await page.selectOption('form[data-testid=task-filters] select[name=state]', 'leased');
    await expect.poll(() => total(page), { timeout: SHOWN_MS }).toBe(String(ALICE.length + BOB.length));
    expect(await rowIds(page)).toEqual([...ALICE, ...BOB].sort());
    expect(await page.evaluate(() => location.hash)).toMatch(/^#\/tasks\?.*\bstate=leased\b/);

    await filter(page, 'owner', 'alice');
    await expect.poll(() => total(page), { timeout: SHOWN_MS }).toBe(String(ALICE.length));
    expect(await rowIds(page)).toEqual([...ALICE].sort());
    const owners = await page.$$eval(`${TABLE} tbody td[data-col=owner]`, (cells) => cells.map((cell) => cell.textContent ?? ''));
    expect(owners.every((owner) => owner.includes('alice'))).toBe(true);
    const hash = await page.evaluate(() => location.hash);
    expect(hash).toMatch(/\bstate=leased\b/);
    expect(hash).toMatch(/\bowner=alice\b/);

    // Sort by id: the header button sorts, a second click reverses (the hash says which way).
    const ascending = [...ALICE].sort();
    await page.click('th button[data-sort=id]');
    await expect.poll(() => page.evaluate(() => location.hash), { timeout: SHOWN_MS }).toMatch(/\bsort=id\b/);
    if (!/\border=desc\b/.test(await page.evaluate(() => location.hash))) {
      await expect.poll(() => rowIds(page), { timeout: SHOWN_MS }).toEqual(ascending);
      await page.click('th button[data-sort=id]');
      await expect.poll(() => page.evaluate(() => location.hash), { timeout: SHOWN_MS }).toMatch(/\border=desc\b/);
    }
    await expect.poll(() => rowIds(page), { timeout: SHOWN_MS }).toEqual([...ascending].reverse());
    const sortedHash = await page.evaluate(() => location.hash);
    expect(sortedHash).toMatch(/\bsort=id\b/);
    expect(sortedHash).toMatch(/\border=desc\b/);

    // A colleague opens the same URL in a new page (its own session): the same rows.
    const other = await dash.page(`${s.url}/${sortedHash}`);
    await signIn(other.page, ADMIN);
    await expect.poll(() => other.page.getAttribute(TABLE, 'data-total'), { timeout: SHOWN_MS }).toBe(String(ALICE.length));
    expect(await rowIds(other.page)).toEqual(await rowIds(page));
    expect(await other.page.inputValue('form[data-testid=task-filters] [name=owner]')).toBe('alice');
    expect(await other.page.inputValue('form[data-testid=task-filters] select[name=state]')).toBe('leased');
    expect(other.problems).toEqual([]);
    expect(problems).toEqual([]);
  });

  it('finds a task by a piece of its id, case-insensitive, and by label, among 10,000', async () => {
    const s = await tenThousand();
    const { page, problems } = await dash.signedIn(s, ADMIN, '#/tasks');
    await expect.poll(() => total(page), { timeout: SHOWN_MS }).toBe(String(TOTAL));
    await filter(page, 'label', 'gpu');
    await expect.poll(() => total(page), { timeout: SHOWN_MS }).toBe(String(TOTAL / 10));
    expect(await rowIds(page)).toEqual(Array.from({ length: PAGE }, (_, i) => idOf(i * 10)));
    await filter(page, 'label', '');
    await expect.poll(() => total(page), { timeout: SHOWN_MS }).toBe(String(TOTAL));
    await filter(page, 'search', 'TASK-0123');
    await expect.poll(() => total(page), { timeout: SHOWN_MS }).toBe('10');
    expect(await rowIds(page)).toEqual(Array.from({ length: 10 }, (_, i) => idOf(1230 + i)));
    expect(await page.evaluate(() => location.hash)).toMatch(/\bsearch=TASK-0123\b/);
    await filter(page, 'search', '09999');
    await expect.poll(() => rowIds(page), { timeout: SHOWN_MS }).toEqual([idOf(9999)]);
    await page.click(`${TABLE} tbody tr[data-task-id="${idOf(9999)}"] td[data-col=id] a`);
    await page.locator(`[data-testid=task-page][data-task-id="${idOf(9999)}"]`).waitFor();
    expect(await page.evaluate(() => location.hash)).toBe(`#/tasks/${idOf(9999)}`);
    expect(problems).toEqual([]);
  });
});
