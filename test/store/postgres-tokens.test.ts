// Agent and viewer tokens on a PostgreSQL store live in the database (`<schema>.tokens`), shared
// by every daemon on it: a token minted through one daemon works on another after a failover,
// with no re-mint; a revocation applies on each; only hashes are stored; the table comes with
// format version 2, applied to an existing version-1 schema.
import { createHash } from 'node:crypto';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { connect } from '../../src/client/index.js';
import { createSupervisor, type Supervisor } from '../../src/index.js';
import { serve, type Server } from '../../src/server/index.js';
import { openPostgresTokens } from '../../src/server/postgres-tokens.js';
import { migrate } from '../../src/store/postgres-schema.js';
import { createTestClock } from '../../src/testing.js';
import { dropSchema, freshSchema, postgresUrl, sql, storeIn } from '../postgres/database.js';
import { leaseholdAsync } from '../server/serve-process.js';
import { T0 } from '../support.js';
import { freePort } from '../free-port.js';

const ADMIN = 'tokens-admin-token-0123456789';
const quiet = { warn: () => {}, info: () => {} };

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function schema(): string {
  const s = freshSchema('tok');
  cleanups.push(() => dropSchema(s));
  return s;
}

/** A supervisor on `s` (standby when the store is held) served with the schema's shared tokens. */
async function daemon(s: string, holder: string): Promise<{ sup: Supervisor; server: Server; url: string }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const clock = createTestClock(T0, { awaitWork: false });
  const sup = await createSupervisor({ store: storeIn(s, { holder, advertisedUrl: url, ownershipTtlMs: 1_000 }), clock, standby: true, logger: quiet });
  const server = await serve(sup, { port, adminToken: ADMIN, tokensTable: { connectionString: postgresUrl(), schema: s }, daemonFile: false, logger: quiet });
  cleanups.push(() => sup.close(), () => server.close());
  return { sup, server, url };
}

const as = (token: string) => ({ authorization: `Bearer ${token}` });
const mint = async (url: string, owner: string) => {
  const response = await fetch(`${url}/v1/agents`, { method: 'POST', headers: { ...as(ADMIN), 'content-type': 'application/json' }, body: JSON.stringify({ owner }) });
  expect(response.status).toBe(201);
  return ((await response.json()) as { token: string }).token;
};
const statusOf = async (url: string, token: string) => (await fetch(`${url}/v1/agents/activity`, { headers: as(token) })).status;

/** Every row of every table in `s`, as text. */
async function everything(s: string): Promise<string> {
  const rows = await sql<{ text: string }>(
    `SELECT string_agg(t::text, E'\\n') AS text FROM (SELECT s::text FROM ${s}.store s UNION ALL SELECT t::text FROM ${s}.tasks t UNION ALL SELECT k::text FROM ${s}.tokens k) t`,
  );
  return rows[0]?.text ?? '';
}

describe('tokens on a PostgreSQL store', () => {
  it('a token minted through the leader works on the standby once it takes over; a revoked one is refused by both', async () => {
    const s = schema();
    const a = await daemon(s, 'a');
    const b = await daemon(s, 'b');
    expect([a.sup.role, b.sup.role]).toEqual(['leader', 'standby']);

    const kept = await mint(a.url, 'agent-1');
    const revoked = await mint(a.url, 'agent-2');
    expect(await statusOf(a.url, revoked)).toBe(200);
    expect((await fetch(`${a.url}/v1/agents/agent-2`, { method: 'DELETE', headers: as(ADMIN) })).status).toBe(200);
    expect(await statusOf(a.url, revoked)).toBe(401);
    expect(await statusOf(a.url, kept)).toBe(200);

    // Only hashes, in the table: neither token appears anywhere in the schema.
    const rows = await sql<{ hash: string; owner: string; role: string; revoked: boolean }>(`SELECT hash, owner, role, revoked_at IS NOT NULL AS revoked FROM ${s}.tokens ORDER BY owner`);
    const sha = (token: string) => createHash('sha256').update(token).digest('hex');
    expect(rows).toEqual([
      { hash: sha(kept), owner: 'agent-1', role: 'agent', revoked: false },
      { hash: sha(revoked), owner: 'agent-2', role: 'agent', revoked: true },
    ]);
    const dump = await everything(s);
    expect(dump).toContain(sha(kept));
    expect(dump).not.toContain(kept);
    expect(dump).not.toContain(revoked);

    // The leader goes; the standby leads and takes the agent's token as it is, no re-mint.
    const client = connect({ urls: [a.url, b.url], token: kept, logger: quiet });
    const admin = connect({ urls: [a.url, b.url], token: ADMIN, logger: quiet });
    cleanups.push(() => client.close(), () => admin.close());
    await a.server.close();
    await a.sup.close();
    await b.sup.ready;
    expect(b.sup.role).toBe('leader');
    await admin.create({ id: 't' });
    expect(await client.claim('t', { owner: 'agent-1' })).toMatchObject({ epoch: expect.any(Number) as number });
    expect(await statusOf(b.url, kept)).toBe(200);
    expect(await statusOf(b.url, revoked)).toBe(401);
    const listed = (await (await fetch(`${b.url}/v1/agents`, { headers: as(ADMIN) })).json()) as { owner: string }[];
    expect(listed.map((entry) => entry.owner)).toEqual(['agent-1']);
    // One live token per owner and role on the whole store: minting agent-1 again through b is refused.
    const again = await fetch(`${b.url}/v1/agents`, { method: 'POST', headers: { ...as(ADMIN), 'content-type': 'application/json' }, body: JSON.stringify({ owner: 'agent-1' }) });
    expect([again.status, ((await again.json()) as { error: { code: string } }).error.code]).toEqual([409, 'DUPLICATE_AGENT']);
  });

  it('two registries on one schema: a token minted on one is known to the other at its first miss; a revocation reaches it on its next read', async () => {
    const s = schema();
    const sup = await createSupervisor({ store: storeIn(s), logger: quiet });
    cleanups.push(() => sup.close());
    const open = (refreshMs: number) => openPostgresTokens({ adminToken: ADMIN, connectionString: postgresUrl(), schema: s, refreshMs, logger: quiet });
    const one = await open(0);
    const other = await open(20);
    cleanups.push(() => one.close(), () => other.close());

    const { token } = await one.mint('agent-7', 'viewer');
    expect(other.identify(ADMIN)).toEqual({ role: 'admin' });
    expect(await other.identifyFresh(token)).toEqual({ role: 'viewer', owner: 'agent-7' });
    expect(other.identify(token)).toEqual({ role: 'viewer', owner: 'agent-7' });
    expect(await other.identifyFresh('not-a-token')).toBeUndefined();

    expect(await one.revoke('agent-7')).toEqual({ owner: 'agent-7', revoked: 1 });
    expect(one.identify(token)).toBeUndefined();
    // `other` reads the table every 20 ms: bounded wait for its next read.
    for (let i = 0; i < 100 && other.identify(token) !== undefined; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(other.identify(token)).toBeUndefined();
    await expect(other.revoke('agent-7')).rejects.toMatchObject({ code: 'AGENT_NOT_FOUND' });
    await expect(open(0).then((r) => r.close())).resolves.toBeUndefined();
    // A schema holding no store is no store.
    await expect(openPostgresTokens({ adminToken: ADMIN, connectionString: postgresUrl(), schema: `${s}_none` })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });

  it('the tokens table comes with format version 2, on an existing version-1 schema (by the registry, or by the next supervisor)', async () => {
    const pool = new pg.Pool({ connectionString: postgresUrl(), max: 1 });
    cleanups.push(() => pool.end());
    const atVersion1 = async () => {
      const s = schema();
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        await migrate(client, s, 0, 1);
        await client.query(`UPDATE ${s}.store SET epoch_floor = 7`);
        await client.query('COMMIT');
      } finally {
        client.release();
      }
      return s;
    };
    const versionOf = async (s: string) => (await sql<{ format_version: number; tokens: boolean }>(`SELECT format_version, to_regclass('${s}.tokens') IS NOT NULL AS tokens FROM ${s}.store`))[0];

    const byRegistry = await atVersion1();
    expect(await versionOf(byRegistry)).toEqual({ format_version: 1, tokens: false });
    const tokens = await openPostgresTokens({ adminToken: ADMIN, connectionString: postgresUrl(), schema: byRegistry, refreshMs: 0 });
    await tokens.close();
    expect(await versionOf(byRegistry)).toEqual({ format_version: 2, tokens: true });
    expect(await sql(`SELECT epoch_floor FROM ${byRegistry}.store`)).toEqual([{ epoch_floor: '7' }]);

    const bySupervisor = await atVersion1();
    const store = storeIn(bySupervisor);
    await store.open();
    await store.close();
    expect(await sql(`SELECT epoch_floor FROM ${bySupervisor}.store`)).toEqual([{ epoch_floor: '7' }]);
    expect(await versionOf(bySupervisor)).toEqual({ format_version: 2, tokens: true });
  });

  it('`leasehold agent add` with no daemon running writes the table; a daemon serving the store accepts the token', async () => {
    const s = schema();
    const sup = await createSupervisor({ store: storeIn(s), logger: quiet });
    const server = await serve(sup, { port: 0, adminToken: ADMIN, tokensTable: { connectionString: postgresUrl(), schema: s }, daemonFile: false, logger: quiet });
    cleanups.push(() => sup.close(), () => server.close());
    const added = await leaseholdAsync(['--store', `${postgresUrl()}#${s}`, '--state-dir', `/nonexistent-${s}`, '--json', 'agent', 'add', 'agent-9']);
    expect(added.status).toBe(0);
    const { token } = JSON.parse(added.stdout) as { token: string };
    expect(await statusOf(server.url, token)).toBe(200);
    const revoked = await leaseholdAsync(['--store', `${postgresUrl()}#${s}`, '--state-dir', `/nonexistent-${s}`, 'agent', 'revoke', 'agent-9']);
    expect([revoked.status, revoked.stdout]).toEqual([0, 'revoked 1 token of agent-9\n']);
    expect(await sql(`SELECT owner FROM ${s}.tokens WHERE revoked_at IS NULL`)).toEqual([]);
  });
});
