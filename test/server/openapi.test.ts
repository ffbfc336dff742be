// /v1/openapi.json: every route the server answers is in it, and every body and query schema
// in it is valid JSON Schema (draft 2020-12) generated from the zod schemas that validate.
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { API_ROUTES } from '../../src/server/app.js';
import { bodies, jsonSchemaOf, queries } from '../../src/server/schemas.js';
import { served } from './support.js';

// The JSON Schema validator Fastify itself ships (ajv 8, draft 2020-12).
const requireFromFastify = createRequire(createRequire(import.meta.url).resolve('@fastify/ajv-compiler'));
const Ajv2020 = requireFromFastify('ajv/dist/2020') as new (options: object) => { compile(schema: object): (data: unknown) => boolean };

type Operation = { requestBody?: { content: { 'application/json': { schema: object } } }; parameters?: { in: string; schema: object }[] };

describe('the OpenAPI document', () => {
  it('lists every route of the API tables, health, metrics and events, with its method', async () => {
    const s = await served();
    const doc = (await s.call('GET', '/v1/openapi.json')).body as { openapi: string; paths: Record<string, Record<string, Operation>> };
    expect(doc.openapi).toBe('3.1.0');
    const listed = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`));
    const expected = [
      ...API_ROUTES.map((r) => `${r.method} ${r.url.replace(/:(\w+)/g, '{$1}')}`),
      'GET /v1/events',
      'GET /metrics',
      'GET /healthz',
      'GET /v1/openapi.json',
    ];
    expect(listed.sort()).toEqual(expected.sort());
    expect(API_ROUTES).toHaveLength(23);
    expect(listed).toContain('GET /v1/whoami');
  });

  it('its schemas are valid JSON Schema, and are the very schemas that validate', async () => {
    const s = await served();
    const doc = (await s.call('GET', '/v1/openapi.json')).body as { paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, object> } };
    const ajv = new Ajv2020({ strict: false });
    const schemas = [
      ...Object.values(doc.paths).flatMap((ops) => Object.values(ops)).flatMap((op) => [
        ...(op.requestBody ? [op.requestBody.content['application/json'].schema] : []),
        ...(op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.schema),
      ]),
      ...Object.values(doc.components.schemas),
    ];
    expect(schemas.length).toBeGreaterThan(14);
    for (const schema of schemas) expect(() => ajv.compile(schema)).not.toThrow();
    expect(doc.paths['/v1/tasks/{id}/heartbeat']!.post!.requestBody!.content['application/json'].schema).toEqual(JSON.parse(JSON.stringify(jsonSchemaOf(bodies.heartbeat))));
    const heartbeat = ajv.compile(jsonSchemaOf(bodies.heartbeat));
    expect(heartbeat({ epoch: 1, progress: 40 })).toBe(true);
    expect(heartbeat({ epoch: 1, sneaky: true })).toBe(false);
    expect(heartbeat({ epoch: 'one' })).toBe(false);
    const list = ajv.compile(jsonSchemaOf(queries.listTasks));
    expect(list({ state: 'leased' })).toBe(true);
    expect(list({ state: 'nope' })).toBe(false);
  });
});
