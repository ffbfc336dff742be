// MCP for LLM agents through the SDK's own Client, over both transports: Streamable HTTP to the
// daemon's /mcp, and stdio through the built `leasehold mcp` forwarding to it. The nine tools
// and their schemas; a round trip that changes the task as in-process; refusals as tool errors
// with code and reason that change nothing; an agent never acting as another; a viewer only
// reading; the recovery hand-off up front; and mcpTouch renewing an agent's other leases.
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { EXIT_CODES } from '../../src/cli/exit-codes.js';
import { serve } from '../../src/server/index.js';
import { ADMIN, served } from '../server/support.js';
import { harness } from '../support.js';
import { bin, callTool, mcpClient, refusal, type Via } from './support.js';

const TOOLS = ['add_compensation', 'claim', 'claim_next', 'complete', 'extend', 'fail', 'get_task', 'heartbeat', 'release'];

describe.each<Via>(['http', 'stdio'])('MCP over %s', (via) => {
  it('lists the nine tools, each with a description and an input schema', async () => {
    const s = await served();
    const client = await mcpClient(via, s.url, await s.mint('alice'));
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name).sort()).toEqual(TOOLS);
    for (const tool of tools) {
      expect(tool.description!.length).toBeGreaterThan(60);
      expect(tool.inputSchema.type).toBe('object');
    }
    const heartbeat = tools.find((tool) => tool.name === 'heartbeat')!;
    expect(heartbeat.inputSchema.required).toEqual(['taskId', 'epoch']);
    expect(heartbeat.inputSchema.additionalProperties).toBe(false);
    expect(Object.keys(heartbeat.inputSchema.properties!).sort()).toEqual(['epoch', 'leaseMs', 'message', 'owner', 'progress', 'taskId']);
    expect(heartbeat.description).toMatch(/epoch/);
    expect(client.getInstructions()).toMatch(/Fencing/);
  });

  it('claim_next → heartbeat → add_compensation → complete changes the task as in-process; get_task reads it', async () => {
    const s = await served();
    const client = await mcpClient(via, s.url, await s.mint('alice'));
    expect((await callTool(client, 'claim_next')).data).toEqual({ lease: null });
    await s.sup.create({ id: 't1', labels: ['gpu'] });
    const claimed = await callTool(client, 'claim_next', { labels: ['gpu'], leaseMs: 60_000 });
    expect(claimed.isError).toBe(false);
    expect(claimed.data.lease).toEqual(s.sup.get('t1')!.lease);
    expect(claimed.text).toMatch(/^You hold task "t1" with epoch 1 /);
    await s.clock.advance(10_000);
    const beat = await callTool(client, 'heartbeat', { taskId: 't1', epoch: 1, progress: 40, message: 'tests written' });
    expect(beat.data.lease.expiresAt).toBe(s.clock.now() + 60_000);
    expect(beat.data.lease).toEqual(s.sup.get('t1')!.lease);
    const undo = await callTool(client, 'add_compensation', { taskId: 't1', epoch: 1, action: 'delete-branch', args: { branch: 'b' } });
    expect(undo.data.task.compensations).toHaveLength(1);
    const done = await callTool(client, 'complete', { taskId: 't1', epoch: 1, result: { pr: 42 } });
    expect(done.text).toMatch(/^Task "t1" is completed\./);
    expect(done.data.task).toEqual(s.sup.get('t1'));
    expect(s.sup.get('t1')!.terminal).toMatchObject({ state: 'completed', result: { pr: 42 } });
    expect((await callTool(client, 'get_task', { taskId: 't1' })).data.task).toEqual(s.sup.get('t1'));
    expect(refusal(await callTool(client, 'get_task', { taskId: 'nope' }))).toEqual(['TASK_NOT_FOUND', undefined]);
  });

  it('bad arguments are INVALID_INPUT tool errors naming each problem (strict: an unknown one too); an unknown tool is a protocol error', async () => {
    const s = await served();
    await s.sup.create({ id: 't' });
    const client = await mcpClient(via, s.url, await s.mint('alice'));
    const lease = (await callTool(client, 'claim', { taskId: 't' })).data.lease;
    await s.clock.advance(1_000);
    const before = s.bytes();
    const wrong = await callTool(client, 'heartbeat', { taskId: 't', epoch: 'one', progres: 40 });
    expect(refusal(wrong)).toEqual(['INVALID_INPUT', undefined]);
    expect(wrong.data.error.issues).toEqual([expect.stringMatching(/^epoch: /), expect.stringMatching(/progres/)]);
    expect(wrong.text).toMatch(/\n- epoch: /);
    expect(refusal(await callTool(client, 'complete', { epoch: 1 }))).toEqual(['INVALID_INPUT', undefined]);
    expect(s.bytes()).toBe(before);
    expect(s.sup.get('t')!.lease).toEqual(lease);
    await expect(client.callTool({ name: 'steal', arguments: {} })).rejects.toThrow(/unknown tool "steal"/);
  });

  it("another owner's task and a stale epoch are tool errors with code and reason; the store is unchanged", async () => {
    const s = await served({}, { mcpTouch: false });
    const alice = await mcpClient(via, s.url, await s.mint('alice'));
    const bob = await mcpClient(via, s.url, await s.mint('bob'));
    await s.sup.create({ id: 't', leaseMs: 1_000, graceMs: 0 });
    await callTool(alice, 'claim', { taskId: 't' });
    await s.clock.advance(1_500);
    const second = (await callTool(alice, 'claim', { taskId: 't' })).data.lease;
    expect(second.epoch).toBe(2);
    const before = s.bytes();
    const stale = await callTool(alice, 'heartbeat', { taskId: 't', epoch: 1, progress: 10 });
    expect(refusal(stale)).toEqual(['LEASE_CONFLICT', 'stale_epoch']);
    expect(stale.text).toMatch(/Next: .*no longer yours/);
    expect(refusal(await callTool(bob, 'complete', { taskId: 't', epoch: 2 }))).toEqual(['LEASE_CONFLICT', 'not_owner']);
    expect(refusal(await callTool(bob, 'release', { taskId: 't', epoch: 2, reason: 'mine now' }))).toEqual(['LEASE_CONFLICT', 'not_owner']);
    expect(s.bytes()).toBe(before);
    expect(s.sup.get('t')!.lease).toEqual(second);
  });

  it('an agent cannot act as another (FORBIDDEN); a viewer may get_task but not claim; the admin must name the owner', async () => {
    const s = await served();
    await s.sup.create({ id: 't' });
    const mallory = await mcpClient(via, s.url, await s.mint('mallory'));
    const before = s.bytes();
    const posing = await callTool(mallory, 'claim', { taskId: 't', owner: 'alice' });
    expect(refusal(posing)).toEqual(['FORBIDDEN', undefined]);
    expect(posing.text).toMatch(/acts for agent "mallory" only/);
    expect(refusal(await callTool(mallory, 'claim_next', { owner: 'alice' }))).toEqual(['FORBIDDEN', undefined]);
    const viewer = await mcpClient(via, s.url, await s.mint('dashboard', 'viewer'));
    expect((await callTool(viewer, 'get_task', { taskId: 't' })).data.task.state).toBe('planned');
    expect(refusal(await callTool(viewer, 'claim', { taskId: 't' }))).toEqual(['FORBIDDEN', undefined]);
    expect(refusal(await callTool(viewer, 'claim_next'))).toEqual(['FORBIDDEN', undefined]);
    expect(s.bytes()).toBe(before);
    const admin = await mcpClient(via, s.url, ADMIN);
    const unnamed = await callTool(admin, 'claim', { taskId: 't' });
    expect(refusal(unnamed)).toEqual(['INVALID_INPUT', undefined]);
    expect(unnamed.text).toMatch(/owner: required with the admin token/);
    expect((await callTool(admin, 'claim', { taskId: 't', owner: 'carol' })).data.lease.owner).toBe('carol');
  });

  it("a reclaim's result opens with the recovery hand-off instructions", async () => {
    const s = await served();
    await s.sup.create({ id: 't', leaseMs: 1_000, graceMs: 0 });
    const alice = await mcpClient(via, s.url, await s.mint('alice'));
    const bob = await mcpClient(via, s.url, await s.mint('bob'));
    await callTool(alice, 'claim', { taskId: 't' });
    await s.clock.advance(500);
    expect((await callTool(alice, 'heartbeat', { taskId: 't', epoch: 1, progress: 60, message: 'migration half applied' })).isError).toBe(false);
    await s.clock.advance(1_500);
    const taken = await callTool(bob, 'claim_next');
    const { recovery } = taken.data.lease;
    expect(recovery).toMatchObject({ previousOwner: 'alice', previousEpoch: 1, progress: 60, message: 'migration half applied' });
    expect(recovery.instructions.length).toBeGreaterThan(0);
    expect(taken.text.startsWith('RECOVERY HAND-OFF')).toBe(true);
    expect(taken.text.indexOf(`Instructions: ${recovery.instructions}`)).toBeLessThan(taken.text.indexOf('You hold task'));
  });

  it.each([true, false])("with mcpTouch %s, a tool call of an agent renews (or not) its other live lease", async (mcpTouch) => {
    const s = await served({}, { mcpTouch });
    for (const id of ['a', 'b']) await s.sup.create({ id, leaseMs: 60_000 });
    const alice = await mcpClient(via, s.url, await s.mint('alice'));
    await callTool(alice, 'claim', { taskId: 'a' });
    const b = (await callTool(alice, 'claim', { taskId: 'b' })).data.lease;
    await s.clock.advance(30_000);
    await callTool(alice, 'heartbeat', { taskId: 'a', epoch: 1 });
    const expected = mcpTouch ? s.clock.now() + 60_000 : b.expiresAt;
    expect(s.sup.get('b')!.lease!.expiresAt).toBe(expected);
    // A read is a sign of life too.
    await s.clock.advance(10_000);
    await callTool(alice, 'get_task', { taskId: 'a' });
    expect(s.sup.get('b')!.lease!.expiresAt).toBe(mcpTouch ? s.clock.now() + 60_000 : b.expiresAt);
  });
});

describe('MCP identity at the door', () => {
  it('no or an unknown token on /mcp is HTTP 401 UNAUTHORIZED, before any MCP processing', async () => {
    const s = await served();
    const initialize = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } };
    const headers = { accept: 'application/json, text/event-stream' };
    for (const token of [undefined, 'not-a-token']) {
      const answer = await s.call('POST', '/mcp', { body: initialize, headers, ...(token && { token }) });
      expect([answer.status, answer.body.error.code]).toEqual([401, 'UNAUTHORIZED']);
    }
    await expect(mcpClient('http', s.url, 'not-a-token')).rejects.toThrow(/UNAUTHORIZED/);
  });

  it('is stateless: GET (a standalone stream) and DELETE (end a session) are 405, and a token is still needed', async () => {
    const s = await served();
    const alice = await s.mint('alice');
    for (const method of ['GET', 'DELETE']) {
      const answer = await s.call(method, '/mcp', { token: alice, headers: { accept: 'text/event-stream' } });
      expect([answer.status, answer.body.error.code]).toEqual([405, -32000]);
      expect((await s.call(method, '/mcp')).status).toBe(401);
    }
  });

  it('through stdio, an unknown token makes each tool call an UNAUTHORIZED tool error', async () => {
    const s = await served();
    const client = await mcpClient('stdio', s.url, 'not-a-token');
    expect(refusal(await callTool(client, 'claim_next'))).toEqual(['UNAUTHORIZED', undefined]);
  });
});

describe('leasehold mcp', () => {
  it('finds the daemon from --store (its daemon file) and the token from LEASEHOLD_TOKEN', async () => {
    const s = await served();
    await s.sup.create({ id: 't' });
    const token = await s.mint('alice');
    const client = await mcpClient('stdio', s.url, token, ['--store', s.file, 'mcp'], { LEASEHOLD_TOKEN: token });
    expect((await callTool(client, 'claim', { taskId: 't' })).data.lease.owner).toBe('alice');
  });

  it('a daemon that is not there is an UNAVAILABLE tool error, not a crash', async () => {
    const client = await mcpClient('stdio', 'http://127.0.0.1:9', 'some-token', ['mcp', '--url', 'http://127.0.0.1:9', '--token', 'some-token']);
    const answer = await callTool(client, 'get_task', { taskId: 't' });
    expect(refusal(answer)).toEqual(['UNAVAILABLE', undefined]);
  });
});

describe('leasehold mcp on stdio', () => {
  it('writes nothing but JSON-RPC messages to stdout, and exits when stdin ends', async () => {
    const s = await served();
    const child = spawn(process.execPath, [bin, 'mcp', '--url', s.url], { env: { PATH: process.env.PATH ?? '', LEASEHOLD_TOKEN: await s.mint('alice') }, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const exited = once(child, 'exit');
    const send = (message: object) => child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', ...message })}\n`);
    send({ id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } });
    send({ method: 'notifications/initialized' });
    send({ id: 2, method: 'tools/call', params: { name: 'get_task', arguments: { taskId: 'none' } } });
    const deadline = Date.now() + 15_000;
    while (out.split('\n').filter(Boolean).length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    child.stdin.end();
    const [code] = (await Promise.race([exited, new Promise((_, reject) => setTimeout(() => reject(new Error('no exit')), 10_000))])) as [number];
    expect(code).toBe(0);
    const messages = out.split('\n').filter(Boolean).map((line) => JSON.parse(line) as { jsonrpc: string; id: number; result: any }); // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(messages.map((m) => [m.jsonrpc, m.id])).toEqual([['2.0', 1], ['2.0', 2]]);
    expect(messages[1]!.result.isError).toBe(true);
    expect(messages[1]!.result.content[0].text).toMatch(/^TASK_NOT_FOUND: /);
  });

  it('without a url or a token: exit 2 (INVALID_INPUT) with the reason on stderr, nothing on stdout', () => {
    const run = spawnSync(process.execPath, [bin, 'mcp'], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' }, input: '', timeout: 20_000 });
    expect(run.status).toBe(EXIT_CODES.INVALID_INPUT);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/url: give --url/);
    expect(run.stderr).toMatch(/token: give --token or LEASEHOLD_TOKEN/);
  });
});

describe('mcpTouch', () => {
  it('a failed renewal is logged and the tool call goes on', async () => {
    const h = await harness();
    await h.sup.create({ id: 't' });
    const warnings: string[] = [];
    const sup = Object.assign(Object.create(h.sup) as typeof h.sup, { touch: () => Promise.reject(new Error('disk on fire')) });
    const server = await serve(sup, { port: 0, adminToken: ADMIN, daemonFile: false, tokensFile: false, logger: { warn: (message: string) => warnings.push(message) } });
    try {
      const client = await mcpClient('http', server.url, ADMIN);
      // The admin acts for an agent but is no sign of its life: no renewal at all.
      expect((await callTool(client, 'claim', { taskId: 't', owner: 'alice' })).isError).toBe(false);
      expect(warnings).toEqual([]);
      const minted = await fetch(`${server.url}/v1/agents`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: JSON.stringify({ owner: 'alice' }) });
      const alice = await mcpClient('http', server.url, ((await minted.json()) as { token: string }).token);
      const read = await callTool(alice, 'get_task', { taskId: 't' });
      expect([read.isError, read.data.task.lease.owner]).toEqual([false, 'alice']);
      expect(warnings).toEqual([expect.stringMatching(/renewing the leases of "alice" before its MCP tool call failed/)]);
    } finally {
      await server.close();
    }
  });
});
