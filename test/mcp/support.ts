// MCP through the SDK's own Client, over either transport, against a served supervisor
// (test/server/support.ts: a real store file, the test clock, loopback, port 0): `http` talks to
// the daemon's /mcp directly; `stdio` spawns the built CLI, `leasehold mcp --url … --token …`,
// which forwards to it. Clients (and the spawned CLIs) are closed after each test.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterEach, expect } from 'vitest';

export type Via = 'http' | 'stdio';

export const bin = join(import.meta.dirname, '..', '..', 'dist', 'src', 'cli', 'main.js');

const clients: Client[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) await client.close();
});

/** The arguments of `leasehold … mcp` (a test may leave --url or --token out, for the env or the daemon file). */
export function mcpTransport(via: Via, url: string, token: string, cliArgs?: string[], env: Record<string, string> = {}) {
  if (via === 'http') return new StreamableHTTPClientTransport(new URL(`${url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${token}` } } });
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run npm run build first`);
  return new StdioClientTransport({
    command: process.execPath,
    args: [bin, ...(cliArgs ?? ['mcp', '--url', url, '--token', token])],
    env: { PATH: process.env.PATH ?? '', ...env },
    stderr: 'pipe',
  });
}

/** A connected MCP client acting with `token` (closed after the test). */
export async function mcpClient(via: Via, url: string, token: string, cliArgs?: string[], env?: Record<string, string>): Promise<Client> {
  const client = new Client({ name: 'leasehold-test', version: '1' });
  await client.connect(mcpTransport(via, url, token, cliArgs, env));
  clients.push(client);
  return client;
}

export interface ToolAnswer {
  isError: boolean;
  text: string;
  data: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** One tools/call, its text and structuredContent. */
export async function callTool(client: Client, name: string, args: Record<string, unknown> = {}): Promise<ToolAnswer> {
  const result = await client.callTool({ name, arguments: args });
  const content = result.content as { type: string; text?: string }[];
  expect(content[0]!.type).toBe('text');
  return { isError: result.isError === true, text: content[0]!.text!, data: result.structuredContent };
}

/** A refusal's code and reason, checked to be a tool error whose text opens with them. */
export function refusal(answer: ToolAnswer): [string, string | undefined] {
  expect(answer.isError).toBe(true);
  const { code, reason } = answer.data.error as { code: string; reason?: string };
  expect(answer.text.startsWith(`${code}${reason === undefined ? '' : ` (${reason})`}: `)).toBe(true);
  expect(answer.text).toMatch(/\nNext: /);
  return [code, reason];
}
