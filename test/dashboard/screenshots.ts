// `npm run screenshots`: photographs each dashboard view into docs/dashboard-*.png, from the
// scripted scenario (scenario.ts) served and browsed by the test harness, so the README's
// pictures are regenerated from the real page, never hand-made. Needs the built dashboard.
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { ADMIN, launchBrowser, openPage, signIn, startServer, type Served } from './browser.js';
import { ensureChromium } from './chromium.js';
import { AGENTS, playScenario, SCENARIO_TASKS, scenarioOptions } from './scenario.js';

const DOCS = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'docs');

interface Shot {
  file: string;
  hash: string;
  /** What must be on the page before it is photographed. */
  ready: string;
}

const SHOTS: Shot[] = [
  { file: 'dashboard-lifecycle.png', hash: '#/', ready: '[data-testid=diagram] svg' },
  { file: 'dashboard-tasks.png', hash: '#/tasks', ready: 'table[data-testid=task-table] tbody tr[data-task-id]' },
  { file: 'dashboard-task.png', hash: `#/tasks/${encodeURIComponent(SCENARIO_TASKS.handOff)}`, ready: '[data-testid=handoff]' },
  { file: 'dashboard-agents.png', hash: '#/agents', ready: 'table[data-testid=agents-table] tr[data-owner]' },
];

async function shoot(page: Page, shot: Shot): Promise<string> {
  await page.evaluate((hash) => (location.hash = hash), shot.hash);
  await page.locator(shot.ready).first().waitFor({ timeout: 15_000 });
  await page.locator('[data-testid=live][data-status=open]').waitFor({ timeout: 15_000 });
  await page.evaluate(() => document.fonts.ready.then(() => undefined));
  const path = join(DOCS, shot.file);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/**
 * A minute and a half of work while the lifecycle page watches, so its chart has a history:
 * every tick moves the test clock 3 s, agent-atlas renews its leases now and then, agent-cedar works
 * through the backlog. The page samples the stats by the server's clock; the real pause per
 * tick only lets it refetch (it throttles to 4 reads a second).
 */
async function liveTraffic(served: Served, ticks = 30) {
  const backlog = served.sup.list({ state: 'planned' }).map((task) => task.id).filter((id) => id.startsWith('backlog/'));
  let held: Awaited<ReturnType<Served['sup']['claim']>> | undefined;
  for (let tick = 0; tick < ticks; tick++) {
    await served.clock.advance(3_000);
    // Not every tick: a lease renewed past its maxRenewals is reported stuck.
    if (tick % 5 === 0) await served.sup.touch('agent-atlas');
    if (held && tick % 2 === 0) {
      await served.sup.complete(held.taskId, held);
      held = undefined;
    } else if (!held && tick % 3 === 0 && backlog.length > 0) {
      held = await served.sup.claim(backlog.shift()!, { owner: 'agent-cedar' });
    }
    await sleep(300);
  }
}

async function main() {
  await ensureChromium();
  const served = await startServer(scenarioOptions);
  const browser = await launchBrowser();
  try {
    await playScenario(served.sup, served.clock);
    for (const owner of AGENTS) await served.mint(owner);
    await served.mint('ops-dashboard', 'viewer');
    mkdirSync(DOCS, { recursive: true });
    const { page, problems } = await openPage(browser, `${served.url}/#/`, { width: 1360, height: 900 });
    await signIn(page, ADMIN, 'admin');
    await page.locator('[data-testid=live][data-status=open]').waitFor({ timeout: 15_000 });
    await liveTraffic(served);
    for (const shot of SHOTS) console.log(`wrote ${await shoot(page, shot)}`);
    if (problems.length > 0) {
      console.error(`the page logged:\n${problems.join('\n')}`);
      process.exitCode = 1;
    }
  } finally {
    await browser.close();
    await served.close();
  }
}

await main();
