// The task page in a real browser: the lease, the recovery hand-off a released task leaves its
// next owner, the compensation ledger with each step's status, the timeline; and the admin's
// quarantine action, which a viewer's or an agent's page does not offer and the API refuses.
import { describe, expect, it } from 'vitest';
import { ADMIN, SHOWN_MS, textOf } from './browser.js';
import { useDashboard } from './fixture.js';

const dash = useDashboard();

const taskHash = (id: string) => `#/tasks/${encodeURIComponent(id)}`;

/** Whether `inner` appears in `outer` in order, other items allowed between (the timeline merges live events in). */
const inOrderWithin = (inner: readonly string[], outer: readonly (string | null)[]) => {
  let at = 0;
  for (const item of outer) if (item === inner[at]) at++;
  return at === inner.length;
};

describe('dashboard: task page', () => {
  it('shows the hand-off of a task released with a reason and claimed by another owner, with its lease and timeline', async () => {
    const s = await dash.server();
    const id = 'migrate/users-table';
    await s.sup.create({ id, labels: ['db'] });
    const first = await s.sup.claim(id, { owner: 'agent-cedar' });
    await s.clock.advance(30_000);
    await s.sup.heartbeat(id, { ...first, progress: 60, message: 'copied 6.1M of 10M rows' });
    await s.sup.release(id, { ...first, reason: 'needs a DBA: lock wait on users' });
    const second = await s.sup.claim(id, { owner: 'agent-atlas' });
    expect(second.recovery?.previousOwner).toBe('agent-cedar');

    const { page, problems } = await dash.signedIn(s, ADMIN, taskHash(id));
    await page.locator(`[data-testid=task-page][data-task-id="${id}"]`).waitFor();
    expect(await page.title()).toBe(`Task ${id} — leasehold`);
    expect(await textOf(page, '[data-testid=task-state]')).toContain('leased');
    const lease = await textOf(page, '[data-testid=lease]');
    expect(lease).toContain('agent-atlas');
    expect(lease).toContain(String(second.epoch));
    const handoff = await textOf(page, '[data-testid=handoff]');
    for (const part of ['agent-cedar', 'needs a DBA: lock wait on users', 'copied 6.1M of 10M rows', '60']) expect(handoff).toContain(part);
    expect(handoff).toContain(second.recovery!.instructions.slice(0, 40));
    await expect.poll(() => textOf(page, '[data-testid=progress-history]'), { timeout: SHOWN_MS }).toContain('60');
    // The timeline: the audit, oldest first, with who did what.
    const events = await page.$$eval('[data-testid=timeline] li[data-event]', (items) => items.map((item) => item.getAttribute('data-event')));
    const audit = s.sup.get(id)!.audit.map((entry) => entry.event);
    expect(audit).toEqual(['created', 'claimed', 'heartbeat', 'released', 'claimed']);
    expect(inOrderWithin(audit, events), `timeline ${events.join(', ')}`).toBe(true);
    const released = await textOf(page, '[data-testid=timeline] li[data-event=released]');
    expect(released).toContain('agent-cedar');

    // A task without a recovery has no hand-off block.
    await s.sup.create({ id: 'fresh' });
    await page.evaluate((hash) => (location.hash = hash), taskHash('fresh'));
    await page.locator('[data-testid=task-page][data-task-id="fresh"]').waitFor();
    expect(await page.locator('[data-testid=handoff]').count()).toBe(0);
    expect(problems).toEqual([]);
  });

  it('shows the compensation ledger: pending steps while leased, each step done once a failed task is compensated', async () => {
    const undone: string[] = [];
    const s = await dash.server({ compensators: { 'delete-preview': async () => void undone.push('delete-preview'), 'revert-dns': async () => void undone.push('revert-dns') } });
    for (const id of ['deploy/preview-1187', 'deploy/preview-1190']) {
      await s.sup.create({ id });
      const lease = await s.sup.claim(id, { owner: 'agent-birch' });
      await s.sup.addCompensation(id, { ...lease, action: 'delete-preview', args: { env: id } });
      await s.sup.addCompensation(id, { ...lease, action: 'revert-dns', args: { record: `${id}.example.com` } });
      if (id.endsWith('1187')) await s.sup.fail(id, { ...lease, error: 'helm upgrade timed out', retryable: false });
    }
    await s.clock.settle();
    expect(s.sup.get('deploy/preview-1187')!.state).toBe('compensated');
    expect(undone.sort()).toEqual(['delete-preview', 'revert-dns']);

    const { page, problems } = await dash.signedIn(s, ADMIN, taskHash('deploy/preview-1190'));
    await page.locator('[data-testid=task-page][data-task-id="deploy/preview-1190"]').waitFor();
    await page.locator('[data-testid=ledger] tr[data-seq]').first().waitFor();
    const statuses = () =>
      page.$$eval('[data-testid=ledger] tr[data-seq]', (rows) => rows.map((row) => [row.getAttribute('data-seq'), row.querySelector('td[data-col=status]')?.textContent?.trim()]));
    const pending = s.sup.get('deploy/preview-1190')!.compensations;
    expect(await statuses()).toEqual(pending.map((entry) => [String(entry.seq), 'pending']));
    expect(await textOf(page, '[data-testid=ledger]')).toContain('revert-dns');

    await page.evaluate((hash) => (location.hash = hash), taskHash('deploy/preview-1187'));
    await page.locator('[data-testid=task-page][data-task-id="deploy/preview-1187"]').waitFor();
    await expect.poll(() => textOf(page, '[data-testid=task-state]'), { timeout: SHOWN_MS }).toContain('compensated');
    const done = s.sup.get('deploy/preview-1187')!.compensations;
    expect(done.map((entry) => entry.status)).toEqual(['done', 'done']);
    await expect.poll(statuses, { timeout: SHOWN_MS }).toEqual(done.map((entry) => [String(entry.seq), 'done']));
    expect(await page.locator('[data-testid=timeline] li[data-event=compensation-done]').count()).toBe(2);
    expect(await page.locator('[data-testid=timeline] li[data-event=failed]').count()).toBeGreaterThanOrEqual(1);
    expect(problems).toEqual([]);
  });

  it('quarantines with the admin token: reason given in the dialog, the task quarantined in the supervisor', async () => {
    const s = await dash.server();
    await s.sup.create({ id: 'scrape/docs-mirror' });
    await s.sup.claim('scrape/docs-mirror', { owner: 'agent-atlas' });
    const { page, problems } = await dash.signedIn(s, ADMIN, taskHash('scrape/docs-mirror'));
    await page.locator('[data-testid=task-page][data-task-id="scrape/docs-mirror"]').waitFor();
    expect(await textOf(page, '[data-testid=role]')).toContain('admin');
    await page.click('button[data-testid=quarantine]');
    await page.fill('textarea[name=reason]', 'crashes every agent: 3 OOMs in a row');
    await page.click('button[data-testid=quarantine-confirm]');
    await expect.poll(() => s.sup.get('scrape/docs-mirror')!.state, { timeout: SHOWN_MS }).toBe('quarantined');
    expect(s.sup.get('scrape/docs-mirror')!.terminal).toMatchObject({ by: 'admin', reason: 'crashes every agent: 3 OOMs in a row' });
    await expect.poll(() => textOf(page, '[data-testid=task-state]'), { timeout: SHOWN_MS }).toContain('quarantined');
    expect(await page.locator('[data-testid=action-error]').count()).toBe(0);
    expect(problems).toEqual([]);
  });

  it("annotates with the admin token, and shows the API's refusal of a quarantine without a reason on the page", async () => {
    const s = await dash.server();
    await s.sup.create({ id: 'review/pr-1190' });
    const { page, problems } = await dash.signedIn(s, ADMIN, taskHash('review/pr-1190'));
    await page.locator('[data-testid=task-page][data-task-id="review/pr-1190"]').waitFor();
    await page.click('button[data-testid=annotate]');
    await page.fill('textarea[name=metadata]', '{"pr": 1190, "reviewer": "kim"}');
    await page.click('button[data-testid=annotate-confirm]');
    await expect.poll(() => s.sup.get('review/pr-1190')!.metadata, { timeout: SHOWN_MS }).toEqual({ pr: 1190, reviewer: 'kim' });
    await page.locator('[data-testid=timeline] li[data-event=annotated]').waitFor();

    await page.click('button[data-testid=quarantine]');
    await page.fill('textarea[name=reason]', '');
    await page.click('button[data-testid=quarantine-confirm]');
    await page.locator('[data-testid=action-error]').waitFor();
    expect(await textOf(page, '[data-testid=action-error]')).toMatch(/reason/i);
    expect(s.sup.get('review/pr-1190')!.state).toBe('planned');
    // The browser itself reports the refused call (a 400 it fetched); the page logs nothing.
    expect(problems.filter((problem) => !/Failed to load resource: .*\b400\b/.test(problem))).toEqual([]);
  });

  it('offers no action to a viewer or an agent token, and the API refuses a viewer with 403', async () => {
    const s = await dash.server();
    await s.sup.create({ id: 'scrape/docs-mirror' });
    for (const [owner, role] of [['ops-viewer', 'viewer'], ['agent-atlas', 'agent']] as const) {
      const token = await s.mint(owner, role);
      const { page, problems } = await dash.signedIn(s, token, taskHash('scrape/docs-mirror'));
      await page.locator('[data-testid=task-page][data-task-id="scrape/docs-mirror"]').waitFor();
      await page.locator('[data-testid=timeline] li[data-event=created]').waitFor();
      expect(await textOf(page, '[data-testid=role]')).toContain(role);
      for (const action of ['quarantine', 'quarantine-confirm', 'annotate', 'annotate-confirm']) {
        expect(await page.locator(`[data-testid=${action}]`).count(), `${action} for ${role}`).toBe(0);
      }
      expect(problems).toEqual([]);
      if (role === 'viewer') {
        const refused = await s.api('POST', `/v1/tasks/${encodeURIComponent('scrape/docs-mirror')}/quarantine`, token, { reason: 'not mine to do' });
        expect([refused.status, refused.body.error.code]).toEqual([403, 'FORBIDDEN']);
      }
    }
    expect(s.sup.get('scrape/docs-mirror')!.state).toBe('planned');
  });
});
