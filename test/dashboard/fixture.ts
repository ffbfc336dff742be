// The vitest side of the browser harness: one chromium per test file (a launch costs about
// half a second), a fresh context per page, and everything a test opened closed after it.
import type { Browser } from 'playwright-core';
import { afterAll, afterEach, beforeAll } from 'vitest';
import type { SupervisorOptions } from '../../src/index.js';
import { launchBrowser, openPage, signIn, startServer, type Served, type Watched } from './browser.js';

export interface Dashboard {
  readonly browser: Browser;
  /** A served supervisor on the test clock (see startServer), closed after the test. */
  server(options?: Partial<SupervisorOptions>): Promise<Served>;
  /** A watched page in a new context, at `url` when given, closed after the test. */
  page(url?: string): Promise<Watched>;
  /** A page at `hash` of `served`'s dashboard, signed in with `token` (default the admin's). */
  signedIn(served: Served, token: string, hash?: string): Promise<Watched>;
}

export function useDashboard(): Dashboard {
  let browser: Browser | undefined;
  const opened: (() => Promise<void>)[] = [];
  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterEach(async () => {
    for (const close of opened.splice(0).reverse()) await close();
  });
  afterAll(async () => {
    await browser?.close();
  });
  const dashboard: Dashboard = {
    get browser() {
      if (!browser) throw new Error('the browser is launched in beforeAll');
      return browser;
    },
    async server(options) {
      const served = await startServer(options);
      opened.push(served.close);
      return served;
    },
    async page(url) {
      const watched = await openPage(dashboard.browser, url);
      opened.push(() => watched.context.close());
      return watched;
    },
    async signedIn(served, token, hash = '#/') {
      const watched = await dashboard.page(`${served.url}/${hash}`);
      await signIn(watched.page, token);
      return watched;
    },
  };
  return dashboard;
}
