// The OpenAPI 3.1 document of the HTTP API v1, built from the route tables and the zod schemas
// that validate their bodies and queries (schemas.ts), so the document cannot drift from what
// the server accepts. Routes served by plugins of their own (events, metrics, health, this
// document) are described here in a short list.
import type { Route } from './route.js';
import { errorBodySchema, jsonSchemaOf } from './schemas.js';

/** Routes that are not in a route table. */
const OTHER_ROUTES: Pick<Route, 'method' | 'url' | 'who' | 'summary' | 'answer'>[] = [
  { method: 'GET', url: '/v1/events', who: 'any', summary: 'lifecycle events once durable, as Server-Sent Events (Last-Event-ID resumes)', answer: 'text/event-stream' },
  { method: 'GET', url: '/metrics', who: 'none', summary: 'Prometheus metrics', answer: 'Prometheus text' },
  { method: 'GET', url: '/healthz', who: 'none', summary: 'liveness', answer: "{ ok: true }; a standby: { ok: true, role: 'standby', leader }; a supervisor closed after losing its store: 503 { ok: false, role: 'closed' }" },
  { method: 'GET', url: '/v1/openapi.json', who: 'none', summary: 'this document', answer: 'OpenAPI 3.1' },
];

const ERROR_STATUSES: Record<string, string> = {
  '400': 'INVALID_INPUT: malformed JSON, wrong types, unknown fields',
  '401': 'UNAUTHORIZED: no, unknown or revoked token',
  '403': 'FORBIDDEN: another owner, a viewer writing, an agent on an admin route',
  '404': 'TASK_NOT_FOUND, AGENT_NOT_FOUND, NOT_FOUND',
  '409': 'LEASE_CONFLICT (with reason), DUPLICATE_TASK, TERMINAL_TASK, DUPLICATE_AGENT',
  '413': 'PAYLOAD_TOO_LARGE',
  '503': 'STORE_WRITE_FAILED, SUPERVISOR_CLOSED, STORE_LOCKED',
};

export function openApiDocument(routes: readonly Route[], version: string) {
  const error = { content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of [...routes, ...OTHER_ROUTES]) {
    const path = route.url.replace(/:(\w+)/g, '{$1}');
    const pathParams = [...route.url.matchAll(/:(\w+)/g)].map(([, name]) => ({ name, in: 'path', required: true, schema: { type: 'string' } }));
    const full = route as Partial<Route>;
    const query = full.query ? (jsonSchemaOf(full.query) as { properties?: Record<string, unknown> }) : undefined;
    const queryParams = Object.entries(query?.properties ?? {}).map(([name, schema]) => ({ name, in: 'query', required: false, schema }));
    const status = String(full.status ?? 200);
    paths[path] ??= {};
    paths[path][route.method.toLowerCase()] = {
      summary: route.summary,
      'x-leasehold-who': route.who,
      ...(route.who === 'none' ? { security: [] } : {}),
      ...(pathParams.length + queryParams.length > 0 && { parameters: [...pathParams, ...queryParams] }),
      ...(full.body && { requestBody: { required: false, content: { 'application/json': { schema: jsonSchemaOf(full.body) } } } }),
      responses: {
        [status]: { description: route.answer, ...(full.type && { content: { [full.type]: {} } }) },
        ...Object.fromEntries(Object.entries(ERROR_STATUSES).map(([code, description]) => [code, { description, ...error }])),
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'leasehold HTTP API', version },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }],
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: { Error: jsonSchemaOf(errorBodySchema) },
    },
    paths,
  };
}
