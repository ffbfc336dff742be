// Who is calling and what they may call: the bearer check, as a Fastify hook on every `/v1`
// route (but the OpenAPI document), and the owner an owner call acts for. Tokens are read
// from the Authorization header only and never appear in an answer or a log line.
import type { FastifyInstance } from 'fastify';
import { ForbiddenError, InvalidInputError, UnauthorizedError } from '../errors.js';
import type { Identity, TokenRegistry } from './tokens.js';

/**
 * Who may call a route: `any` token (reads, the event stream), `agent` (owner calls: an agent
 * for itself, or the admin for an explicit owner), `admin` only, or `none` (no token needed).
 */
export type Who = 'any' | 'agent' | 'admin' | 'none';

declare module 'fastify' {
  interface FastifyContextConfig {
    who?: Who;
  }
  interface FastifyRequest {
    identity: Identity | undefined;
  }
}

const BEARER = /^Bearer ([^\s]+)$/;

/** Paths under /v1 that need no token. */
const OPEN = new Set(['/v1/openapi.json']);

export function registerAuth(app: FastifyInstance, tokens: TokenRegistry) {
  app.decorateRequest('identity', undefined);
  app.addHook('onRequest', async (request) => {
    const path = request.url.split('?')[0]!;
    const who = request.routeOptions.config?.who ?? (path === '/v1' || path.startsWith('/v1/') ? 'any' : 'none');
    // An unknown route is answered 404 NOT_FOUND, token or not (the document lists them all anyway).
    if (who === 'none' || OPEN.has(path) || request.is404) return;
    const match = BEARER.exec(request.headers.authorization ?? '');
    // A miss may be a token another daemon on a shared store just minted: read once more before refusing.
    const identity = match ? (tokens.identify(match[1]!) ?? (await tokens.identifyFresh?.(match[1]!))) : undefined;
    if (!identity) throw new UnauthorizedError(match ? 'unknown or revoked token' : undefined);
    request.identity = identity;
    allow(identity, who);
  });
}

function allow(identity: Identity, who: Who) {
  if (identity.role === 'admin' || who === 'any') return;
  if (who === 'admin') throw new ForbiddenError('this route needs the admin token');
  if (identity.role === 'viewer') throw new ForbiddenError('a viewer token may only read');
}

/**
 * The owner an owner call acts for: an agent's own (a different `owner` given is refused), or
 * the one the admin names (required: the admin acts for an agent, never as itself).
 */
export function ownerFor(identity: Identity, given: string | undefined): string {
  if (identity.role === 'admin') {
    if (given === undefined) throw new InvalidInputError('request', ['owner: required with the admin token']);
    return given;
  }
  if (identity.role !== 'agent') throw new ForbiddenError('a viewer token may only read');
  if (given !== undefined && given !== identity.owner) {
    throw new ForbiddenError(`this token acts for agent ${JSON.stringify(identity.owner)} only, not ${JSON.stringify(given)}`);
  }
  return identity.owner;
}
