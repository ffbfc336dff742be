// The demo's MCP agent: what an LLM agent's runtime does, through the MCP SDK's own Client over
// Streamable HTTP at the daemon's /mcp (its token as the bearer): it claims a task another agent
// died on, reads the recovery hand-off the answer starts with, heartbeats and completes — each
// step a tool call (claim, heartbeat, complete), narrated as it goes.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Lease } from '../client/index.js';
import { report, signal } from './channel.js';
import { LEASE_MS, pause } from './timing.js';

type Answer = { lease?: Lease | null; error?: { code: string; reason?: string; message: string } };

export async function mcpAgent(url: string, token: string, name: string, taskId: string): Promise<void> {
  const client = new Client({ name: `leasehold-demo-${name}`, version: '1' });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  const call = async (tool: string, args: Record<string, unknown>) => {
    const result = await client.callTool({ name: tool, arguments: args });
    return result.structuredContent as Answer;
  };
  try {
    let answer = await call('claim', { taskId });
    // A lease still in its grace is waited out, as the tool's refusal tells an agent to.
    for (let tries = 0; answer.error?.code === 'LEASE_CONFLICT' && tries < 50; tries++) {
      await pause(100);
      answer = await call('claim', { taskId });
    }
    if (!answer.lease) throw new Error(`claim ${taskId}: ${answer.error?.message}`);
    const { epoch } = answer.lease;
    signal('claimed');
    report(`(MCP) called claim → ${taskId} epoch ${epoch}, with hand-off: "${answer.lease.recovery?.instructions}"`);
    await pause(LEASE_MS / 3);
    const beat = await call('heartbeat', { taskId, epoch, progress: 70, message: 'data copied, verifying' });
    if (beat.error) throw new Error(`heartbeat: ${beat.error.message}`);
    report(`(MCP) called heartbeat at 70% → lease until +${beat.lease!.expiresAt - beat.lease!.heartbeatAt} ms`);
    const done = await call('complete', { taskId, epoch, result: { by: name } });
    if (done.error) throw new Error(`complete: ${done.error.message}`);
    report(`(MCP) called complete → ✓ completed ${taskId} (epoch ${epoch})`);
  } finally {
    await client.close();
  }
}
