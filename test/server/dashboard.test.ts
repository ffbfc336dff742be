// The dashboard's static files on real loopback HTTP: `/` and `/assets/<file>` from a build
// folder (a temporary one here, with files like the build's), the security headers, no token
// needed, 404 for anything the build did not write, 503 when there is no build.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DASHBOARD_CSP, defaultDashboardDir, packageRoot } from '../../src/server/dashboard.js';
import { served } from './support.js';

const root = mkdtempSync(join(tmpdir(), 'leasehold-dashboard-test-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const build = join(root, 'dashboard');
mkdirSync(build);
writeFileSync(join(build, 'index.html'), '<!doctype html><title>leasehold</title><script src="/assets/app-ABCD1234.js"></script>');
writeFileSync(join(build, 'app-ABCD1234.js'), 'console.log(1)');
writeFileSync(join(build, 'app.css'), 'body{}');
// Beside the build folder: what a traversal would try to reach.
writeFileSync(join(root, 'secret.txt'), 'not for you');

const SECURITY = {
  'content-security-policy': DASHBOARD_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

async function get(url: string) {
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

const headersOf = (answer: { headers: Headers }) => Object.fromEntries(Object.keys(SECURITY).map((name) => [name, answer.headers.get(name)]));

describe('dashboard: static files', () => {
  it('answers / with index.html and /assets/<file> with the bundle, without a token, with the security headers', async () => {
    const s = await served({}, { dashboard: { dir: build } });
    const page = await get(`${s.url}/`);
    expect([page.status, page.headers.get('content-type'), page.text]).toEqual([200, 'text/html; charset=utf-8', readFileSync(join(build, 'index.html'), 'utf8')]);
    expect(headersOf(page)).toEqual(SECURITY);
    expect(page.headers.get('cache-control')).toBe('no-cache');

    const script = await get(`${s.url}/assets/app-ABCD1234.js`);
    expect([script.status, script.headers.get('content-type'), script.text]).toEqual([200, 'text/javascript; charset=utf-8', 'console.log(1)']);
    expect(headersOf(script)).toEqual(SECURITY);
    expect(script.headers.get('cache-control')).toContain('immutable');
    const style = await get(`${s.url}/assets/app.css`);
    expect([style.status, style.headers.get('content-type'), style.headers.get('cache-control')]).toEqual([200, 'text/css; charset=utf-8', 'no-cache']);
  });

  it('answers 404 NOT_FOUND for an asset the build did not write, and no path leaves the build folder', async () => {
    const s = await served({}, { dashboard: { dir: build } });
    for (const path of ['/assets/app-0000.js', '/assets/..%2Fsecret.txt', '/assets/%2e%2e%2fsecret.txt', '/assets/', '/assets/index.html', '/secret.txt', '/dashboard/index.html']) {
      const answer = await get(`${s.url}${path}`);
      expect([path, answer.status, JSON.parse(answer.text).error.code]).toEqual([path, 404, 'NOT_FOUND']);
      expect(answer.text).not.toContain('not for you');
    }
  });

  it('answers / with 503 and a page saying `npm run build` when the build folder is missing', async () => {
    const s = await served({}, { dashboard: { dir: join(root, 'never-built') } });
    const page = await get(`${s.url}/`);
    expect([page.status, page.headers.get('content-type')]).toEqual([503, 'text/html; charset=utf-8']);
    expect(page.text).toContain('npm run build');
    expect(headersOf(page)).toEqual(SECURITY);
    expect((await get(`${s.url}/assets/app.js`)).status).toBe(404);
  });

  it('serves nothing at / with dashboard: false; the API still needs its token', async () => {
    const s = await served({}, { dashboard: false });
    expect((await get(`${s.url}/`)).status).toBe(404);
    const served2 = await served({}, { dashboard: { dir: build } });
    expect((await get(`${served2.url}/v1/stats`)).status).toBe(401);
  });

  it('finds the build folder from the package root, as from dist/ and under tsx', () => {
    const rootDir = packageRoot()!;
    expect(JSON.parse(readFileSync(join(rootDir, 'package.json'), 'utf8')).name).toBe('leasehold');
    expect(defaultDashboardDir()).toBe(join(rootDir, 'dist', 'dashboard'));
    // From a module's folder deeper in dist/ the walk reaches the same root.
    expect(packageRoot(join(rootDir, 'dist', 'src', 'server'))).toBe(rootDir);
    expect(existsSync(join(rootDir, 'src', 'server', 'dashboard.ts'))).toBe(true);
  });
});
