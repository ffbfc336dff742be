// The CLI beside a running daemon (issue 13, "CLI over the daemon"), the built command as child
// processes: every writing command goes through the daemon's API (found from the daemon file,
// or given with --url and LEASEHOLD_TOKEN) and prints what the local path prints; an agent token
// acts as its owner only; a stale daemon file falls back to the store; reads work beside it;
// a store held by a process that serves nothing is refused with a hint to serve() it.
import { execFileSync } from 'node:child_process';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { freePort } from './free-port.js';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT_CODES } from '../src/cli/exit-codes.js';
import { createSupervisor, jsonFileStore, type TaskView } from '../src/index.js';
import { serve } from '../src/server/index.js';
import { leaseholdAsync, startDaemon, storeDir, type Ran } from './server/serve-process.js';

/** The CLI on `store`, without waiting for a lock (a command that went to the store beside a daemon would fail at once). */
const on = (store: string, args: string[], env: Record<string, string> = {}) => leaseholdAsync(['--store', store, '--wait', '0', ...args], { env });

const ok = (ran: Ran) => {
  expect(ran.stderr).toBe('');
  expect(ran.status).toBe(0);
  return ran.stdout;
};

/** Output with every time replaced: the daemon's run and the local one happen at different instants. */
const timeless = (text: string) =>
  text
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/g, '<time>')
    .replace(/"(\w*At|at|notBefore|timeSpentMs)": \d+/g, '"$1": 0');

const adminOf = (store: string) => (JSON.parse(readFileSync(`${store}.daemon.json`, 'utf8')) as { adminToken: string }).adminToken;

const api = async (url: string, token: string, path: string) => {
  const answer = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(10_000) });
  return (await answer.json()) as unknown;
};

/** Every writing command once, on task ids prefixed with `p` (a lease each command's epoch is 1). */
const writes = (p: string): string[][] => [
  ['create', `${p}1`, '--label', 'web', '--spec', '{"branch":"b"}', '--compensation', 'undo={"n":0}'],
  ['create', `${p}2`, '--label', `${p}-next`],
  ['create', `${p}3`],
  ['claim', `${p}1`, '--owner', 'agent-7', '--lease-ms', '600000'],
  ['heartbeat', `${p}1`, '--owner', 'agent-7', '--epoch', '1', '--progress', '40', '--message', 'half'],
  ['extend', `${p}1`, '--owner', 'agent-7', '--epoch', '1', '--window-ms', '900000'],
  ['add-compensation', `${p}1`, '--owner', 'agent-7', '--epoch', '1', '--action', 'delete-branch', '--args', '{"branch":"b"}'],
  ['complete', `${p}1`, '--owner', 'agent-7', '--epoch', '1', '--result', '{"pr":42}'],
  ['claim-next', '--owner', 'agent-8', '--lease-ms', '600000', '--label', `${p}-next`],
  ['fail', `${p}2`, '--owner', 'agent-8', '--epoch', '1', '--error', 'CI is down', '--retryable'],
  ['claim', `${p}3`, '--owner', 'agent-9'],
  ['release', `${p}3`, '--owner', 'agent-9', '--epoch', '1', '--reason', 'out of budget'],
  ['annotate', `${p}1`, 'ticket=OPS-12', 'reviewed=true'],
];

describe('the CLI over a daemon', () => {
  it('every writing command goes through the daemon and prints what the local path prints, readable and --json; reads work beside it', async () => {
    const { dir, store } = storeDir();
    ok(await on(store, ['create', 'seed']));
    const local = join(dir, 'local.json');
    cpSync(store, local);
    const daemon = await startDaemon(store);

    for (const [mode, prefix] of [[[], 'r'], [['--json'], 'j']] as const) {
      for (const args of writes(prefix)) {
        // The two stores are independent: both runs at once.
        const [served, alone] = await Promise.all([on(store, [...mode, ...args]), on(local, [...mode, ...args])]);
        expect(timeless(ok(served)), args.join(' ')).toBe(timeless(ok(alone)));
      }
    }
    // quarantine: the same, but through the API it is recorded as by the admin.
    const quarantined = JSON.parse(ok(await on(store, ['--json', 'quarantine', 'j3', '--by', 'ops', '--reason', 'crashes']))) as TaskView;
    expect([quarantined.state, quarantined.terminal?.reason]).toEqual(['quarantined', 'crashes']);
    expect(timeless(ok(await on(store, ['quarantine', 'r3', '--by', 'ops', '--reason', 'crashes'])))).toBe(
      timeless(ok(await on(local, ['quarantine', 'r3', '--by', 'ops', '--reason', 'crashes']))),
    );

    // Visible through the API, and read beside the daemon by the reading commands.
    const expected = { seed: 'planned', r1: 'completed', r2: 'planned', r3: 'quarantined', j1: 'completed', j2: 'planned', j3: 'quarantined' };
    expect(states((await api(daemon.url, adminOf(store), '/v1/tasks')) as TaskView[])).toEqual(expected);
    expect(states(JSON.parse(ok(await on(store, ['--json', 'list']))) as TaskView[])).toEqual(expected);
    expect(ok(await on(store, ['show', 'r1']))).toContain('metadata: {"ticket":"OPS-12","reviewed":true}');
    expect(JSON.parse(ok(await on(store, ['--json', 'stats'])))).toMatchObject({ total: 7, byState: { completed: 2, planned: 3, quarantined: 2 } });

    // And in the store once the daemon has stopped.
    expect(await daemon.stop()).toBe(0);
    expect(states(JSON.parse(ok(await on(store, ['--json', 'list']))) as TaskView[])).toEqual(expected);
    const r2 = JSON.parse(ok(await on(store, ['--json', 'show', 'r2']))) as TaskView;
    // A retryable failure: planned again, after a backoff.
    expect([r2.attempts, typeof r2.notBefore]).toEqual([1, 'number']);
  }, 120_000); // about 60 commands, each a process of its own

  it('an agent token (LEASEHOLD_TOKEN) acts as its owner (--owner optional), and is refused for another owner (FORBIDDEN, exit 12) and admin calls', async () => {
    const { dir, store } = storeDir();
    ok(await on(store, ['create', 'mine']));
    const daemon = await startDaemon(store);
    ok(await on(store, ['create', 'theirs']));
    ok(await on(store, ['claim', 'theirs', '--owner', 'agent-8']));
    const token = ok(await on(store, ['agent', 'add', 'agent-7'])).trim();
    const asAgent = { LEASEHOLD_TOKEN: token };

    // Without --owner the token's agent; with it, that same owner.
    const lease = JSON.parse(ok(await on(store, ['--json', 'claim-next'], asAgent))) as { taskId: string; owner: string };
    expect([lease.taskId, lease.owner]).toEqual(['mine', 'agent-7']);
    ok(await on(store, ['heartbeat', 'mine', '--owner', 'agent-7', '--epoch', '1', '--progress', '10'], asAgent));
    const other = await on(store, ['heartbeat', 'theirs', '--owner', 'agent-8', '--epoch', '1'], asAgent);
    expect([other.status, other.stdout]).toEqual([EXIT_CODES.FORBIDDEN, '']);
    expect(other.stderr).toBe('leasehold: FORBIDDEN: this token acts for agent "agent-7" only, not "agent-8"\n');
    const json = await on(store, ['--json', 'complete', 'theirs', '--owner', 'agent-8', '--epoch', '1'], asAgent);
    expect([json.status, (JSON.parse(json.stderr) as { error: { code: string } }).error.code]).toEqual([EXIT_CODES.FORBIDDEN, 'FORBIDDEN']);
    expect((await on(store, ['create', 'x'], asAgent)).status).toBe(EXIT_CODES.FORBIDDEN);

    // With --url (or LEASEHOLD_URL) and no --store, the reads ask the API too.
    const listed = await leaseholdAsync(['--json', 'list'], { env: { ...asAgent, LEASEHOLD_URL: daemon.url }, cwd: dir });
    expect(states(JSON.parse(ok(listed)) as TaskView[])).toEqual({ mine: 'leased', theirs: 'leased' });
    const shown = await leaseholdAsync(['--url', daemon.url, 'show', 'mine'], { env: asAgent, cwd: dir });
    expect(ok(shown)).toContain('claimed agent-7@1');
    expect(JSON.parse(ok(await leaseholdAsync(['--url', daemon.url, '--json', 'stats'], { env: asAgent, cwd: dir })))).toMatchObject({ total: 2 });
    // A url without a token is a usage error.
    const tokenless = await leaseholdAsync(['--url', daemon.url, 'list'], { cwd: dir });
    expect([tokenless.status, tokenless.stderr]).toEqual([EXIT_CODES.INVALID_INPUT, expect.stringContaining('LEASEHOLD_TOKEN: required')]);
  });

  it('a stale daemon file (dead pid, or nothing listening) falls back to the store; a url that does not answer is UNAVAILABLE (exit 15)', async () => {
    const { store } = storeDir();
    ok(await on(store, ['create', 'a']));
    const free = await freePort();
    const dead = Number(execFileSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }));
    for (const pid of [dead, process.pid]) {
      writeFileSync(`${store}.daemon.json`, JSON.stringify({ url: `http://127.0.0.1:${free}`, pid, adminToken: 'a-stale-admin-token-0123456789' }));
      ok(await on(store, ['claim', 'a', '--owner', `agent-${pid}`]));
      ok(await on(store, ['release', 'a', '--owner', `agent-${pid}`, '--epoch', String(pid === dead ? 1 : 2)]));
    }
    expect((JSON.parse(ok(await on(store, ['--json', 'show', 'a']))) as TaskView).epoch).toBe(2);

    const unanswered = await on(store, ['create', 'b'], { LEASEHOLD_URL: `http://127.0.0.1:${free}`, LEASEHOLD_TOKEN: 'any-token-at-all' });
    expect(unanswered.status).toBe(EXIT_CODES.UNAVAILABLE);
    expect(unanswered.stderr).toMatch(/^leasehold: UNAVAILABLE: POST \/v1\/tasks: .*\(the write was not sent\)\n$/);
  });

  it('an orchestrator that serves its supervisor is gone through; one that serves nothing is refused (exit 8) with a hint to serve() it', async () => {
    const { store } = storeDir();
    const sup = await createSupervisor({ store: jsonFileStore(store) });
    let server: Awaited<ReturnType<typeof serve>> | undefined;
    try {
      const refused = await on(store, ['create', 'a']);
      expect(refused.status).toBe(EXIT_CODES.STORE_LOCKED);
      expect(refused.stderr).toContain('serves no API');
      expect(refused.stderr).toContain("serve(sup) from 'leasehold/server'");

      server = await serve(sup, { port: 0, logger: { warn: () => {} } });
      expect(ok(await on(store, ['create', 'a']))).toMatch(/^a\s+planned\.ready\s+epoch 0\n$/);
      expect(sup.get('a')?.state).toBe('planned');
    } finally {
      await server?.close();
      await sup.close();
    }
  });
});

function states(tasks: TaskView[]) {
  return Object.fromEntries(tasks.map((task) => [task.id, task.state]));
}

