// The HTTP API's bodies, queries and path parameters as zod schemas, built from the library's
// own (src/supervisor/inputs.ts): the same fields and bounds validate a call in both places,
// and the OpenAPI document is generated from these very schemas (openapi.ts).
import { z } from 'zod';
import * as inputs from '../supervisor/inputs.js';

/** Every owner-call body may name the owner it acts for (see auth.ts ownerFor). */
const owner = { owner: inputs.name.optional() };

/** An owner call's body: epoch, the call's fields, and (accepted, ignored) the fields of a whole Lease. */
const ownerCallBody = <S extends z.ZodRawShape>(shape: S) => z.strictObject({ ...inputs.leaseProof, ...owner, epoch: inputs.epoch, ...shape });

export const bodies = {
  create: inputs.createInput,
  claim: z.strictObject({ ...owner, ...inputs.claimShape }),
  claimNext: z.strictObject({ ...owner, ...inputs.claimNextShape }),
  heartbeat: ownerCallBody(inputs.ownerCallShapes.heartbeat),
  extend: ownerCallBody(inputs.ownerCallShapes.extend),
  addCompensation: ownerCallBody(inputs.ownerCallShapes.addCompensation),
  complete: ownerCallBody(inputs.ownerCallShapes.complete),
  fail: ownerCallBody(inputs.ownerCallShapes.fail),
  release: ownerCallBody(inputs.ownerCallShapes.release),
  touch: z.strictObject({}),
  quarantine: z.strictObject({ reason: inputs.quarantineReason }),
  annotate: z.strictObject({ metadata: inputs.metadataInput }),
  addAgent: z.strictObject({ owner: inputs.name, role: z.enum(['agent', 'viewer']).optional() }),
};

/** A query-string number (every query value arrives as text) with the library's bounds, which the document shows. */
const queryNumber = (schema: z.ZodNumber) => z.coerce.number().check(...((schema.def.checks ?? []) as z.core.$ZodCheck<number>[]));

export const queries = {
  listTasks: inputs.listFilter,
  taskPage: z.strictObject({
    ...inputs.taskQueryShape,
    offset: queryNumber(inputs.taskQueryShape.offset.unwrap()).optional(),
    limit: queryNumber(inputs.taskQueryShape.limit.unwrap()).optional(),
  }),
  diagram: z.strictObject({ detail: z.enum(['user', 'compact', 'full']).optional() }),
};

/** Path parameters: task ids and owners are names, like everywhere in the library. */
export const params = {
  id: inputs.taskId,
  owner: inputs.name,
};

/** The error body every refusal answers with. */
export const errorBodySchema = z.strictObject({
  error: z.strictObject({
    code: z.string(),
    reason: z.string().optional(),
    message: z.string(),
    issues: z.array(z.string()).optional(),
  }),
});

/** A zod schema as JSON Schema (draft 2020-12): what a caller sends, so transforms show their input. */
export const jsonSchemaOf = (schema: z.ZodType) => z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' });
