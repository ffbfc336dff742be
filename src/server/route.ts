// One API route as data: its method and path, who may call it, the schemas of its body and
// query, and what it runs. The route tables (routes/tasks.ts, routes/agents.ts) are lists of
// these; `registerRoutes` turns them into Fastify routes and openapi.ts into the document, so
// a route is written once. Bodies and params are parsed with the library's `parse`, so a bad
// one is the library's INVALID_INPUT. The reads answer only what is durable (DURABLE).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import type { ReadOptions, Supervisor } from '../supervisor/options.js';
import { parse } from '../supervisor/inputs.js';
import type { Who } from './auth.js';
import type { TaskEventLog } from './events.js';
import { params as paramSchemas } from './schemas.js';
import type { TokenRegistry } from './tokens.js';

/**
 * How every read served over the network reads the supervisor: only what the store holds. A
 * remote reader's answer must never show a change whose write may still fail (or be lost to a
 * kill); in-process callers read live, since they see their own calls at once.
 */
export const DURABLE: ReadOptions = { durable: true };

export interface RouteDeps {
  sup: Supervisor;
  tokens: TokenRegistry;
  /** The recent lifecycle events of the event stream (events.ts). */
  events: TaskEventLog;
}

export interface Call<B, Q> extends RouteDeps {
  request: FastifyRequest;
  /** Path parameters, parsed: `id` (a task id), `owner`. */
  params: { id: string; owner: string };
  body: B;
  query: Q;
}

export interface Route<B = unknown, Q = unknown> {
  method: 'GET' | 'POST' | 'DELETE';
  /** Fastify's form: `/v1/tasks/:id/claim`. */
  url: string;
  who: Who;
  summary: string;
  body?: z.ZodType<B>;
  query?: z.ZodType<Q>;
  /** The success status (200 unless said). */
  status?: number;
  /** What a success answers with, in words (for the document). */
  answer: string;
  /** The answer's content type when it is not JSON: `run` then answers the body itself, as text. */
  type?: string;
  run(call: Call<B, Q>): unknown;
}

/** A route with its types checked where it is written, then kept in a plain list. */
export const route = <B = undefined, Q = undefined>(definition: Route<B, Q>) => definition as unknown as Route;

export function registerRoutes(app: FastifyInstance, routes: readonly Route[], deps: RouteDeps) {
  for (const definition of routes) {
    app.route({
      method: definition.method,
      url: definition.url,
      config: { who: definition.who },
      handler: async (request, reply) => {
        const given = request.params as Record<string, string>;
        const params = {
          id: given.id === undefined ? '' : parse(paramSchemas.id, given.id, 'task id'),
          owner: given.owner === undefined ? '' : parse(paramSchemas.owner, given.owner, 'owner'),
        };
        const body = definition.body ? parse(definition.body, request.body ?? {}, `${definition.summary} body`) : undefined;
        const query = definition.query ? parse(definition.query, request.query ?? {}, `${definition.summary} query`) : undefined;
        const result = await definition.run({ ...deps, request, params, body, query });
        reply.code(definition.status ?? 200);
        if (definition.type !== undefined) return reply.type(definition.type).send(String(result));
        return reply.type('application/json; charset=utf-8').send(JSON.stringify(result ?? null));
      },
    });
  }
}
