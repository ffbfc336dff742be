// The browser tests' harness: a real supervisor on the test clock served on loopback (the API
// and the built dashboard at `/`), Debian's chromium driven by playwright-core, pages that
// record every console error or warning and uncaught page error, and signing in with a token.
// No vitest in here: the screenshot script uses it too (fixture.ts adds the test hooks).
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { createSupervisor, memoryStore, type Supervisor, type SupervisorOptions } from '../../src/index.js';
import { serve } from '../../src/server/index.js';
import { createTestClock, type TestClock } from '../../src/testing.js';
import { findChromium } from './chromium.js';

/** A weekday morning: the dashboard's clocks and countdowns read like a real day. */
export const T0 = Date.UTC(2026, 2, 3, 9, 0, 0);
export const ADMIN = 'admin-token-for-dashboard-tests-0123456789';

/** Bound for a page to show something it fetched (a first load, a click); not a sleep. */
export const SHOWN_MS = 10_000;

export interface Answer {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export interface Served {
  sup: Supervisor;
  clock: TestClock;
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** What the supervisor and the server warned about (nothing, on a normal run). */
  warnings: string[];
  /** One JSON call to the API with a bearer token. */
  api(method: string, path: string, token: string, body?: unknown): Promise<Answer>;
  /** A fresh agent (or viewer) token, minted through the admin route as an operator would. */
  mint(owner: string, role?: 'agent' | 'viewer'): Promise<string>;
  close(): Promise<void>;
}

/**
 * A supervisor on a memory store and the test clock (time moves only by `clock.advance`),
 * sweeps off, served on a free loopback port with the dashboard. Fails early, saying what to
 * do, when the dashboard bundle has not been built.
 */
export async function startServer(options: Partial<SupervisorOptions> = {}): Promise<Served> {
  const clock = createTestClock(T0, { awaitWork: false });
  const warnings: string[] = [];
  const logger = { warn: (message: string) => void warnings.push(message) };
  const sup = await createSupervisor({ store: memoryStore(), clock, schedule: false, logger, ...options });
  const server = await serve(sup, { port: 0, adminToken: ADMIN, logger });
  const served: Served = {
    sup,
    clock,
    url: server.url,
    warnings,
    async api(method, path, token, body) {
      const response = await fetch(`${server.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
        ...(body !== undefined && { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(10_000),
      });
      const text = await response.text();
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
      return { status: response.status, body: parsed };
    },
    async mint(owner, role = 'agent') {
      const answer = await served.api('POST', '/v1/agents', ADMIN, { owner, role });
      if (answer.status !== 201) throw new Error(`minting a ${role} token for ${owner}: HTTP ${answer.status} ${JSON.stringify(answer.body)}`);
      return answer.body.token as string;
    },
    async close() {
      await server.close();
      await sup.close();
    },
  };
  const index = await fetch(`${server.url}/`, { signal: AbortSignal.timeout(10_000) });
  if (index.status !== 200) {
    await served.close();
    throw new Error(`GET / answered ${index.status}: the dashboard is not built (run \`npm run build\` first)`);
  }
  return served;
}

/** Debian's chromium, headless; the dashboard project's globalSetup made sure it is there. */
export async function launchBrowser(): Promise<Browser> {
  const executablePath = findChromium();
  if (!executablePath) throw new Error('no chromium: run the tests through vitest (its globalSetup installs it) or set LEASEHOLD_CHROMIUM');
  return chromium.launch({
    executablePath,
    headless: true,
    // The flags, plus /tmp instead of /dev/shm (64 MB in a default container, where big pages crash the renderer).
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-dev-shm-usage'],
    timeout: 30_000,
  });
}

export interface Watched {
  page: Page;
  context: BrowserContext;
  /** Console errors and warnings and uncaught page errors, in order (empty on a normal run). */
  problems: string[];
}

/** Records what the page logs as an error or a warning and every uncaught exception. */
export function watch(page: Page, problems: string[] = []): string[] {
  page.on('console', (message) => {
    const type = message.type();
    if (type === 'error' || type === 'warning') problems.push(`console.${type}: ${message.text()}`);
  });
  page.on('pageerror', (error) => void problems.push(`pageerror: ${error.message}`));
  return problems;
}

/** A new context (its own sessionStorage) and a watched page in it, at `url` when given. */
export async function openPage(browser: Browser, url?: string, viewport = { width: 1280, height: 900 }): Promise<Watched> {
  const context = await browser.newContext({ viewport });
  context.setDefaultTimeout(SHOWN_MS);
  const page = await context.newPage();
  const problems = watch(page);
  if (url) await page.goto(url);
  return { page, context, problems };
}

/** Fills the token form as a person would and waits until the page says which role it got. */
export async function signIn(page: Page, token: string, role?: 'admin' | 'agent' | 'viewer'): Promise<void> {
  const form = page.locator('form[data-testid=token-form]');
  await form.locator('input[name=token]').fill(token);
  await form.locator('button[type=submit], button:not([type]), input[type=submit]').first().click();
  const shown = page.locator('[data-testid=role]');
  await shown.waitFor();
  if (role) await page.waitForFunction(([expected]) => document.querySelector('[data-testid=role]')?.textContent?.includes(expected!), [role]);
}

/** The text of `selector` trimmed (empty when absent): for expect.poll. */
export async function textOf(page: Page, selector: string): Promise<string> {
  const element = await page.$(selector);
  return ((await element?.textContent()) ?? '').trim();
}

/** Ids of the task table's rows, in order. */
export function rowIds(page: Page): Promise<string[]> {
  return page.$$eval('table[data-testid=task-table] tbody tr[data-task-id]', (rows) => rows.map((row) => row.getAttribute('data-task-id') ?? ''));
}

/**
 * Presses Tab until `selector` has the focus (bounded); false when it never does. Call it on a
 * freshly loaded page to start from the page start, as a keyboard user would.
 */
export async function tabTo(page: Page, selector: string, maxTabs = 80): Promise<boolean> {
  for (let i = 0; i < maxTabs; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector)) return true;
  }
  return false;
}
