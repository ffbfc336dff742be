// `leasehold serve` and `leasehold agent add/revoke`, the built CLI as child processes: one
// line on stdout when ready, the daemon file (0600) while serving and gone after SIGTERM, every
// acknowledged call in the store afterwards, and agent tokens with and without a daemon.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT_CODES } from '../../src/cli/exit-codes.js';
import { durableDocument } from '../support.js';
import { leasehold, startDaemon, storeDir } from './serve-process.js';

const post = (url: string, token: string, body: unknown) =>
  fetch(url, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('leasehold serve', () => {
  it('prints exactly one line, keeps a 0600 daemon file while serving, removes it on SIGTERM; acknowledged calls are in the store', async () => {
    const { store } = storeDir();
    const admin = 'an-admin-token-from-the-environment';
    const daemon = await startDaemon(store, { LEASEHOLD_ADMIN_TOKEN: admin });
    const daemonFile = `${store}.daemon.json`;
    expect(statSync(daemonFile).mode & 0o777).toBe(0o600);
    const info = JSON.parse(readFileSync(daemonFile, 'utf8')) as { url: string; pid: number; adminToken: string };
    expect(info).toEqual({ url: daemon.url, pid: daemon.child.pid, adminToken: admin });

    const added = leasehold('--store', store, '--json', 'agent', 'add', 'agent-1');
    expect(added.status).toBe(0);
    const { token } = JSON.parse(added.stdout) as { token: string };
    const acknowledged: string[] = [];
    for (let i = 0; i < 20; i++) {
      const id = `t${i}`;
      expect((await post(`${daemon.url}/v1/tasks`, admin, { id })).status).toBe(201);
      expect((await post(`${daemon.url}/v1/tasks/${id}/claim`, token, {})).status).toBe(200);
      acknowledged.push(id);
    }
    // Calls in flight when the signal arrives finish before the supervisor closes.
    const inFlight = Array.from({ length: 10 }, (_, i) => post(`${daemon.url}/v1/tasks`, admin, { id: `late${i}` }).then((r) => (r.status === 201 ? `late${i}` : null), () => null));
    await new Promise((resolve) => setTimeout(resolve, 5));
    const code = await daemon.stop();
    for (const id of await Promise.all(inFlight)) if (id) acknowledged.push(id);

    expect(code).toBe(0);
    expect(daemon.stdout()).toBe(`leasehold listening on ${daemon.url}\n`);
    // stderr tells the operator where to find a token for the dashboard, never the token.
    expect(daemon.stderr()).toContain(`dashboard: open ${daemon.url}/ and sign in with the admin token (in LEASEHOLD_ADMIN_TOKEN)`);
    expect(daemon.stdout() + daemon.stderr()).not.toContain(admin);
    expect(daemon.stdout() + daemon.stderr()).not.toContain(token);
    expect(existsSync(daemonFile)).toBe(false);
    const stored = durableDocument(store).tasks;
    for (const id of acknowledged) expect(stored[id], id).toBeDefined();
    expect(Object.keys(stored).filter((id) => id.startsWith('t'))).toHaveLength(20);
  });

  it('--port 0 prints the real port; a store another process holds is refused plainly', async () => {
    const { store } = storeDir();
    const daemon = await startDaemon(store);
    expect(daemon.url).toMatch(/:\d{2,5}$/);
    expect(daemon.url).not.toMatch(/:0$/);
    const second = leasehold('--store', store, '--wait', '0', 'serve', '--port', '0');
    expect(second.status).toBe(EXIT_CODES.STORE_LOCKED);
    expect(second.stdout).toBe('');
    expect(await daemon.stop()).toBe(0);
  });
});

describe('leasehold agent add / revoke', () => {
  it('without a daemon: on the tokens file, which a daemon started later honours', async () => {
    const { store } = storeDir();
    expect(leasehold('--store', store, 'create', 'x').status).toBe(0);
    const added = leasehold('--store', store, 'agent', 'add', 'agent-2');
    expect(added.status).toBe(0);
    const token = added.stdout.trim();
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(readFileSync(`${store}.tokens.json`, 'utf8')).not.toContain(token);
    expect(statSync(`${store}.tokens.json`).mode & 0o777).toBe(0o600);
    const again = leasehold('--store', store, 'agent', 'add', 'agent-2');
    expect([again.status, again.stderr]).toEqual([EXIT_CODES.DUPLICATE_AGENT, expect.stringContaining('leasehold: DUPLICATE_AGENT: ')]);

    const daemon = await startDaemon(store);
    expect((await post(`${daemon.url}/v1/tasks/x/claim`, token, {})).status).toBe(200);
    // With the daemon up, revoke goes through its API and takes effect at once.
    const revoked = leasehold('--store', store, '--json', 'agent', 'revoke', 'agent-2');
    expect(JSON.parse(revoked.stdout)).toEqual({ owner: 'agent-2', revoked: 1 });
    expect((await post(`${daemon.url}/v1/claim-next`, token, {})).status).toBe(401);
    expect(await daemon.stop()).toBe(0);

    const none = leasehold('--store', store, 'agent', 'revoke', 'agent-2');
    expect([none.status, none.stdout]).toEqual([EXIT_CODES.AGENT_NOT_FOUND, '']);
    expect(none.stderr).toBe('leasehold: AGENT_NOT_FOUND: no live token for agent "agent-2"\n');
  });

  it('refuses a store that does not exist', () => {
    const { dir } = storeDir();
    const answer = leasehold('--store', join(dir, 'missing.json'), 'agent', 'add', 'a');
    expect(answer.status).toBe(EXIT_CODES.INVALID_INPUT);
    expect(existsSync(join(dir, 'missing.json.tokens.json'))).toBe(false);
  });
});
