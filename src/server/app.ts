// The Fastify instance of the service: body limit and request timeout, JSON parsing (an empty
// body is no body; malformed JSON is INVALID_INPUT), the bearer hook, the routes, and one error
// handler that answers every refusal as `{ error: { code, reason?, message, issues? } }` with
// its status (errors.ts httpStatusOf). Nothing it answers or logs carries a token.
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { errorBody, httpStatusOf, InvalidInputError, LeaseholdError, NotFoundError, NotLeaderError, PayloadTooLargeError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Supervisor } from '../supervisor/options.js';
import { registerAuth } from './auth.js';
import { registerEvents } from './events.js';
import { registerMcp } from './mcp.js';
import { registerMetrics } from './metrics.js';
import { openApiDocument } from './openapi.js';
import { registerRoutes, type Route } from './route.js';
import { agentRoutes } from './routes/agents.js';
import { diagramRoutes } from './routes/diagram.js';
import { taskRoutes } from './routes/tasks.js';
import type { TokenRegistry } from './tokens.js';

export interface AppOptions {
  sup: Supervisor;
  tokens: TokenRegistry;
  bodyLimitBytes: number;
  requestTimeoutMs: number;
  eventBuffer: number;
  /** Each MCP tool call of an agent first renews its live leases. */
  mcpTouch: boolean;
  logger: Logger;
}

/** What a standby's Retry-After says: a takeover is polled for every second at most. */
const STANDBY_RETRY_AFTER_S = 1;

/** Every route of the API tables (the document and the tests list them). */
export const API_ROUTES: readonly Route[] = [...taskRoutes, ...agentRoutes, ...diagramRoutes];

export async function buildApp({ sup, tokens, bodyLimitBytes, requestTimeoutMs, eventBuffer, mcpTouch, logger }: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: false,
    bodyLimit: bodyLimitBytes,
    requestTimeout: requestTimeoutMs,
    // Keep-alive connections that are idle are closed at close(); busy ones finish their call first.
    forceCloseConnections: 'idle',
    return503OnClosing: true,
  });

  // JSON only. An empty body is no body (`POST /v1/agents/a/touch` with nothing); "__proto__"
  // keys parse as plain data and are refused by the library's parse, like in-process.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, text, done) => {
    if (text === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text as string));
    } catch (error) {
      done(new InvalidInputError('JSON body', [`(value): ${error instanceof Error ? error.message : 'malformed JSON'}`]), undefined);
    }
  });

  app.setErrorHandler((error: FastifyError | LeaseholdError, request, reply) => {
    const known = asLeaseholdError(error, bodyLimitBytes);
    if (known.code === 'INTERNAL_ERROR') logger.warn(`leasehold: ${request.method} ${request.url.split('?')[0]} failed`, error);
    void reply.code(httpStatusOf(known)).type('application/json; charset=utf-8').send(JSON.stringify({ error: errorBody(known) }));
  });
  app.setNotFoundHandler((request) => {
    throw new NotFoundError(`no route ${request.method} ${request.url.split('?')[0]}`);
  });

  // While closing, every answer ends its connection: a keep-alive connection busy when close()
  // began would otherwise stay open after its answer and hold the close for its idle timeout.
  let closing = false;
  app.addHook('preClose', async () => void (closing = true));
  app.addHook('onSend', async (_request, reply) => void (closing && reply.header('connection', 'close')));

  // A standby (issue 15) answers every /v1 call, before any token is looked at, with 503
  // NOT_LEADER naming the leader (body and Location), which clients follow (client/transport.ts).
  app.addHook('onRequest', async (request, reply) => {
    if (sup.role !== 'standby' || !request.url.startsWith('/v1/')) return;
    const leader = sup.leader?.url ?? undefined;
    reply.code(503).header('retry-after', String(STANDBY_RETRY_AFTER_S)).type('application/json; charset=utf-8');
    if (leader) reply.header('location', new URL(request.url, leader).href);
    return reply.send(JSON.stringify({ error: errorBody(new NotLeaderError(leader)) }));
  });
  registerAuth(app, tokens);
  // The event stream goes through the bearer hook like every /v1 route (any token); its ring
  // also answers the task routes (a task's recent events).
  const events = registerEvents(app, { sup, eventBuffer });
  registerRoutes(app, API_ROUTES, { sup, tokens, events });
  // MCP for LLM agents: its own bearer-checked route (config who: 'any'), the tools deciding who may call them.
  registerMcp(app, { sup, mcpTouch, logger });

  const document = JSON.stringify(openApiDocument(API_ROUTES, '1'));
  app.get('/v1/openapi.json', { config: { who: 'none' } }, (_request, reply) => reply.type('application/json; charset=utf-8').send(document));
  // A standby is healthy (it is ready to take over); a supervisor that closed (it lost its store) is not.
  app.get('/healthz', { config: { who: 'none' } }, (_request, reply) => {
    if (sup.role === 'standby') return { ok: true, role: 'standby', leader: sup.leader?.url ?? null };
    if (sup.role === 'closed') return reply.code(503).send({ ok: false, role: 'closed' });
    return { ok: true };
  });

  // Metrics need no token, and time every route, so they hook the root instance.
  registerMetrics(app, { sup });

  await app.ready();
  return app;
}

/** What a thrown error is as the API answers it: Fastify's own refusals mapped to the library's codes. */
function asLeaseholdError(error: FastifyError | LeaseholdError, bodyLimitBytes: number): LeaseholdError {
  if (error instanceof LeaseholdError) return error;
  const status = error.statusCode ?? 500;
  if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || status === 413) return new PayloadTooLargeError(`the body is larger than ${bodyLimitBytes} bytes`);
  if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return new InvalidInputError('request', ['content-type: expected application/json']);
  if (status === 404) return new NotFoundError(error.message);
  if (status >= 400 && status < 500) return new InvalidInputError('request', [error.message]);
  return new LeaseholdError('INTERNAL_ERROR', 'the server failed to answer (see its log)');
}
