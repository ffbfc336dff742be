// MCP over Streamable HTTP at `/mcp`: the tools of mcp-tools.ts for LLM agents, behind the same
// bearer check as the API (auth.ts: no or unknown token is 401 before any MCP processing). The
// token is the identity: an agent acts as its owner, the admin must name `owner` in each owner
// call, a viewer may only read (get_task). Stateless: every request gets a fresh MCP server and
// transport (no session to keep, so any daemon of a failover group can answer any request).
//
// The SDK's low-level Server answers tools/list and tools/call from the tool table, rather than
// McpServer.registerTool: McpServer strips unknown arguments silently and words its own
// validation errors, where the table's arguments are parsed strictly by the library's `parse`,
// so a bad argument is an INVALID_INPUT refusal like every other (code, issues, what next).
//
// With `mcpTouch`, each tool call of an agent first renews the other live leases it holds
// (`sup.touch`: any sign of life counts) — not the one the call itself renews or ends, whose
// heartbeat (progress, message) a renewal at the same instant would refuse as not extending; a
// failed touch is logged and never fails the call.
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { CallToolRequestSchema, ErrorCode, ListToolsRequestSchema, McpError, type CallToolRequest } from '@modelcontextprotocol/sdk/types.js';
import type { FastifyInstance } from 'fastify';
import type { Logger } from '../logger.js';
import type { Supervisor } from '../supervisor/options.js';
import { ownerFor } from './auth.js';
import { argumentsOf, asLeaseholdError, LISTED_TOOLS, MCP_INSTRUCTIONS, MCP_TOOLS, toolError, toolResult } from './mcp-tools.js';
import type { Identity } from './tokens.js';

export interface McpOptions {
  sup: Supervisor;
  /** Renew an agent's live leases on each of its tool calls. */
  mcpTouch: boolean;
  logger: Logger;
}

/** What the server reports at initialize: the API's version (v1), like /v1/openapi.json. */
const SERVER_INFO = { name: 'leasehold', version: '1' };

/** An MCP server with every tool, acting for `identity`. */
export function mcpServerFor(identity: Identity, options: McpOptions): Server {
  const server = new Server(SERVER_INFO, { capabilities: { tools: {} }, instructions: MCP_INSTRUCTIONS });
  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: LISTED_TOOLS }));
  server.setRequestHandler(CallToolRequestSchema, (request) => callTool(identity, options, request.params));
  return server;
}

async function callTool(identity: Identity, { sup, mcpTouch, logger }: McpOptions, { name, arguments: given }: CallToolRequest['params']) {
  const tool = MCP_TOOLS.find((candidate) => candidate.name === name);
  // An unknown tool is a protocol error (the client asked for something tools/list never offered).
  if (!tool) throw new McpError(ErrorCode.InvalidParams, `unknown tool ${JSON.stringify(name)}: see tools/list`);
  try {
    // Arguments first: a call that cannot be understood changes nothing, renewals included.
    const args = argumentsOf(tool, given);
    if (mcpTouch && identity.role === 'agent') await touchQuietly(sup, identity.owner, tool.leasesTarget && (args.taskId as string), logger);
    const owner = tool.who === 'agent' ? ownerFor(identity, args.owner as string | undefined) : undefined;
    return toolResult(await tool.run(sup, owner, args));
  } catch (error) {
    const known = asLeaseholdError(error);
    if (known.code === 'INTERNAL_ERROR') logger.warn(`leasehold: MCP tool ${tool.name} failed`, error);
    return toolError(known);
  }
}

/** Renews the agent's live leases (but `except`'s, which the call renews or ends itself); a failure is only logged. */
async function touchQuietly(sup: Supervisor, owner: string, except: string | undefined, logger: Logger) {
  try {
    await sup.touch(owner, except === undefined ? {} : { except });
  } catch (error) {
    logger.warn(`leasehold: renewing the leases of ${JSON.stringify(owner)} before its MCP tool call failed (the call goes on)`, error);
  }
}

export function registerMcp(app: FastifyInstance, options: McpOptions) {
  app.route({
    method: 'POST',
    url: '/mcp',
    config: { who: 'any' },
    handler: async (request, reply) => {
      const server = mcpServerFor(request.identity!, options);
      // One JSON answer per request, no session.
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
      reply.hijack();
      reply.raw.on('close', () => {
        void transport.close();
        void server.close();
      });
      await server.connect(transport);
      await transport.handleRequest(request.raw, reply.raw, request.body);
    },
  });
  // Without sessions there is no stream to open (GET) or end (DELETE): a standalone stream on a
  // server made for one request would only hold its connection open, and close() with it.
  app.route({
    method: ['GET', 'DELETE'],
    url: '/mcp',
    config: { who: 'any' },
    handler: (_request, reply) =>
      reply
        .code(405)
        .header('allow', 'POST')
        .type('application/json; charset=utf-8')
        .send(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message: 'Method not allowed: this server is stateless (POST only)' }, id: null })),
  });
}
