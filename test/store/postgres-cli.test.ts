// The built `leasehold` command on a PostgreSQL store (`--store postgres://…#schema`): writing
// commands through a supervisor of their own, reading commands beside the owner without taking
// the store, and two `serve` daemons on one database: the standby answers NOT_LEADER naming the
// leader and takes over when the leader stops.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EXIT_CODES } from '../../src/cli/exit-codes.js';
import { connect } from '../../src/client/index.js';
import { createSupervisor } from '../../src/index.js';
import { dropSchema, freshSchema, postgresUrl, sql, storeIn } from '../postgres/database.js';
import { leaseholdAsync, startDaemon } from '../server/serve-process.js';
import { freePort } from '../free-port.js';

const ADMIN = 'cli-postgres-admin-token-0123456789';
const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function target() {
  const schema = freshSchema('cli');
  const dir = mkdtempSync(join(tmpdir(), 'leasehold-pgcli-'));
  cleanups.push(() => dropSchema(schema), () => rmSync(dir, { recursive: true, force: true }));
  return { store: `${postgresUrl()}#${schema}`, schema, dir };
}

describe('leasehold --store postgres://…', () => {
  it('writes through a supervisor of its own; reads beside the owner without taking the store', async () => {
    const { store, schema, dir } = target();
    const run = (...args: string[]) => leaseholdAsync(['--store', store, '--state-dir', dir, ...args]);
    expect((await run('create', 'fix-login')).status).toBe(0);
    expect((await run('claim', 'fix-login', '--owner', 'w')).status).toBe(0);

    // Another supervisor owns the store now: reads still work, and take nothing from it.
    const owner = await createSupervisor({ store: storeIn(schema), logger: { warn: () => {} } });
    cleanups.push(() => owner.close());
    const [before] = await sql<{ generation: string }>(`SELECT generation FROM ${schema}.store`);
    const listed = await run('--json', 'list');
    expect(listed.status).toBe(0);
    expect((JSON.parse(listed.stdout) as { id: string; state: string }[]).map((t) => [t.id, t.state])).toEqual([['fix-login', 'leased']]);
    const stats = await run('--json', 'stats');
    expect((JSON.parse(stats.stdout) as { total: number }).total).toBe(1);
    expect((await run('show', 'fix-login')).stdout).toContain('fix-login');
    expect(await sql(`SELECT generation FROM ${schema}.store`)).toEqual([before]);
    // A writing command meets the owner: STORE_LOCKED, as with a file.
    expect((await run('--wait', '0', 'create', 'other')).status).toBe(EXIT_CODES.STORE_LOCKED);
    // A schema with no store is no store.
    const missing = await leaseholdAsync(['--store', `${postgresUrl()}#nothing_here_${schema}`, 'list']);
    expect([missing.status, missing.stderr]).toEqual([EXIT_CODES.INVALID_INPUT, expect.stringContaining('no store at')]);
  });

  it('two serve daemons: the standby sends clients to the leader, and takes over when it stops', async () => {
    const { store, dir } = target();
    const [portA, portB] = [await freePort(), await freePort()];
    const env = { LEASEHOLD_ADMIN_TOKEN: ADMIN };
    const serveArgs = (port: number, state: string) => ['--port', String(port), '--ownership-ttl', '1000', '--state-dir', state];
    const a = await startDaemon(store, env, serveArgs(portA, join(dir, 'a')));
    const b = await startDaemon(store, env, serveArgs(portB, join(dir, 'b')));
    cleanups.push(
      () => void a.stop(),
      () => void b.stop(),
    );
    expect(a.stdout()).toBe(`leasehold listening on ${a.url}\n`);
    expect(b.stdout()).toBe(`leasehold listening on ${b.url} (standby; the leader is ${a.url})\n`);
    const refused = await fetch(`${b.url}/v1/tasks`, { headers: { authorization: `Bearer ${ADMIN}` } });
    expect([refused.status, ((await refused.json()) as { error: { code: string; leader: string } }).error]).toEqual([503, expect.objectContaining({ code: 'NOT_LEADER', leader: a.url })]);

    const client = connect({ urls: [b.url, a.url], token: ADMIN, logger: { warn: () => {} } });
    cleanups.push(() => client.close());
    await client.create({ id: 't' });
    const lease = await client.claim('t', { owner: 'w' });

    const started = Date.now();
    expect(await a.stop()).toBe(0);
    for (let i = 0; i < 150 && !b.stdout().includes('took over'); i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(Date.now() - started).toBeLessThan(1_000 + 2_000);
    expect(await (await fetch(`${b.url}/healthz`)).json()).toEqual({ ok: true });
    expect(await client.heartbeat('t', { owner: 'w', epoch: lease.epoch, progress: 10 })).toMatchObject({ epoch: lease.epoch });
    expect(await b.stop()).toBe(0);
  });
});
