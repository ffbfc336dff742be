// `leasehold mcp`: a stdio MCP server for agent runtimes that spawn one, forwarding every tool
// call to a daemon's `/mcp` (Streamable HTTP, the SDK's client) with the agent's token.
//
// Forwarding rather than re-serving the tools through the typed client: the stdio server then
// has no tool definitions of its own — tools/list is the daemon's list, tools/call the daemon's
// answer — so the two transports cannot drift (not even across versions), and the identity,
// the viewer/agent/admin rules and mcpTouch are applied in one place, the daemon. Only when the
// daemon cannot be reached does this process answer itself (UNAVAILABLE / UNAUTHORIZED tool
// errors, worded by the same toolError). stdout carries nothing but the protocol; logs go to stderr.
import { existsSync } from 'node:fs';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
// The low-level Server: a proxy answers tools/list and tools/call with what another server said,
// which is the "advanced use" the SDK keeps it for (McpServer wants tools defined locally).
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { CallToolRequestSchema, ErrorCode, ListToolsRequestSchema, McpError } from '@modelcontextprotocol/sdk/types.js';
import type { Command } from 'commander';
import { InvalidInputError, UnauthorizedError, UnavailableError, type LeaseholdError } from '../errors.js';
import { daemonFileOf, readDaemonFile } from '../server/daemon-file.js';
import { sideStem } from './store-target.js';
import { MCP_INSTRUCTIONS, toolError } from '../server/mcp-tools.js';
import { examples, type GlobalOptions } from './arguments.js';
import { packageVersion } from './version.js';

type Options = () => GlobalOptions;

export function addMcpCommand(cli: Command, opts: Options) {
  cli
    .command('mcp')
    .description("a stdio MCP server for an agent runtime: forwards the agent's tool calls to a daemon's /mcp with its token")
    .option('--token <token>', "the agent's bearer token (default: LEASEHOLD_TOKEN; prefer it: arguments show in process lists)")
    .addHelpText(
      'after',
      `${examples('LEASEHOLD_TOKEN=… leasehold mcp --url http://127.0.0.1:7411', 'leasehold --store .leasehold/store.json mcp --token "$AGENT_TOKEN"')}

The daemon: --url (the global option, or LEASEHOLD_URL), else the url in <store>.daemon.json when --store is given.
Nothing but MCP messages goes to stdout; diagnostics go to stderr. Runs until stdin closes.`,
    )
    // --url is the global option (LEASEHOLD_URL), which every command given a daemon takes.
    .action(async (o: { token?: string }) => {
      const storeGiven = cli.getOptionValueSource('store') === 'cli';
      const { url, token } = target({ ...o, url: opts().url }, storeGiven ? sideStem(opts().store, opts().stateDir) : undefined);
      await proxyOverStdio(url, token);
    });
}

/** The daemon and token: flags, then the environment, then (for the url) the daemon file of --store. */
function target(o: { url?: string; token?: string }, store: string | undefined): { url: string; token: string } {
  const daemonFile = store === undefined ? undefined : daemonFileOf(store);
  const url = o.url ?? (daemonFile && existsSync(daemonFile) ? readDaemonFile(daemonFile)?.url : undefined);
  const token = o.token ?? process.env.LEASEHOLD_TOKEN;
  const issues: string[] = [];
  if (url === undefined) issues.push('url: give --url, LEASEHOLD_URL, or --store of a store a daemon serves');
  else if (!/^https?:\/\/[^/]/.test(url)) issues.push(`url: expected http://HOST:PORT, got ${JSON.stringify(url)}`);
  if (token === undefined || !/^\S+$/.test(token)) issues.push('token: give --token or LEASEHOLD_TOKEN (the agent\'s bearer token)');
  if (issues.length > 0) throw new InvalidInputError('mcp', issues);
  return { url: url!.replace(/\/+$/, ''), token: token! };
}

/** Serves MCP on stdin/stdout, each request answered by the daemon's /mcp, until stdin ends. */
async function proxyOverStdio(url: string, token: string): Promise<void> {
  const endpoint = new URL(`${url}/mcp`);
  let upstream: Promise<Client> | undefined;
  /** A connected client, connecting (again) when there is none: the daemon may start after us, or restart. */
  const connected = () =>
    (upstream ??= (async () => {
      const client = new Client({ name: 'leasehold-mcp', version: packageVersion() });
      await client.connect(new StreamableHTTPClientTransport(endpoint, { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
      return client;
    })());
  const forward = async <T>(call: (client: Client) => Promise<T>): Promise<T> => {
    try {
      return await call(await connected());
    } catch (error) {
      // The daemon's own protocol error leaves the connection as it is; any other failure drops it.
      if (error instanceof McpError) throw error;
      const failed = upstream;
      upstream = undefined;
      void failed?.then((client) => client.close()).catch(() => {});
      throw unreachable(error, url);
    }
  };

  const server = new Server({ name: 'leasehold', version: packageVersion() }, { capabilities: { tools: {} }, instructions: MCP_INSTRUCTIONS });
  server.setRequestHandler(ListToolsRequestSchema, async (request) => {
    try {
      return await forward((client) => client.listTools(request.params));
    } catch (error) {
      throw new McpError(ErrorCode.InternalError, (error as Error).message);
    }
  });
  server.setRequestHandler(CallToolRequestSchema, async (request) => {
    try {
      return await forward((client) => client.callTool(request.params));
    } catch (error) {
      if (error instanceof McpError) throw error;
      return toolError(error as LeaseholdError);
    }
  });

  const stdin = process.stdin;
  const ended = new Promise<void>((resolve) => {
    stdin.once('end', resolve);
    stdin.once('close', resolve);
  });
  await server.connect(new StdioServerTransport());
  await ended;
  await server.close();
  await (await upstream?.catch(() => undefined))?.close();
}

/**
 * A failure to get the daemon's answer as the error the agent is told: a 401 is UNAUTHORIZED,
 * anything else UNAVAILABLE (logged to stderr).
 */
function unreachable(error: unknown, url: string): LeaseholdError {
  if (error instanceof StreamableHTTPError && error.code === 401) return new UnauthorizedError('the daemon refused the token (unknown or revoked)');
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`leasehold mcp: ${url}/mcp: ${message}\n`);
  return new UnavailableError(`cannot reach the daemon at ${url} (${message})`);
}
