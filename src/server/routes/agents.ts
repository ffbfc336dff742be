// The agent routes of the HTTP API v1: whoami (what a token is: its role and owner), touch (an
// agent renews every live lease it holds), and the admin's token management (mint, revoke, list). A minted token is in the answer once;
// only its hash is kept (tokens.ts).
import type { z } from 'zod';
import { ForbiddenError } from '../../errors.js';
import { route } from '../route.js';
import { bodies } from '../schemas.js';

export const agentRoutes = [
  route({
    method: 'GET', url: '/v1/whoami', who: 'any',
    summary: "the calling token's role and owner (null for the admin)", answer: '{ role, owner }',
    run: ({ request }) => {
      const identity = request.identity!;
      return { role: identity.role, owner: identity.role === 'admin' ? null : identity.owner };
    },
  }),
  route<z.output<typeof bodies.touch>>({
    method: 'POST', url: '/v1/agents/:owner/touch', who: 'agent', body: bodies.touch,
    summary: 'renew every live lease of this agent (any sign of life counts)', answer: '{ leases: Lease[] }',
    run: async ({ sup, request, params }) => {
      const identity = request.identity!;
      if (identity.role !== 'admin' && identity.owner !== params.owner) {
        throw new ForbiddenError(`this token acts for agent ${JSON.stringify(identity.owner)} only, not ${JSON.stringify(params.owner)}`);
      }
      return { leases: await sup.touch(params.owner) };
    },
  }),
  route<z.output<typeof bodies.addAgent>>({
    method: 'POST', url: '/v1/agents', who: 'admin', status: 201, body: bodies.addAgent,
    summary: 'mint a token for an agent (or a viewer); shown once', answer: '{ owner, role, token }',
    run: ({ tokens, body }) => tokens.mint(body.owner, body.role ?? 'agent'),
  }),
  route({
    method: 'DELETE', url: '/v1/agents/:owner', who: 'admin',
    summary: "revoke every live token of an agent", answer: '{ owner, revoked }',
    run: ({ tokens, params }) => tokens.revoke(params.owner),
  }),
  route({
    method: 'GET', url: '/v1/agents', who: 'admin',
    summary: 'the live tokens (never the tokens themselves)', answer: '[{ owner, role, createdAt }]',
    run: ({ tokens }) => tokens.list(),
  }),
  route({
    method: 'GET', url: '/v1/stats', who: 'any',
    summary: "the supervisor's stats", answer: 'SupervisorStats',
    run: ({ sup }) => sup.stats(),
  }),
];
