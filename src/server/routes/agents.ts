// The agent routes of the HTTP API v1: whoami (what a token is: its role and owner), touch (an
// agent renews every live lease it holds), the agents' activity (the library's joined with the
// live tokens), and the admin's token management (mint, revoke, list). A minted token is in
// the answer once; only its hash is kept (tokens.ts).
import type { z } from 'zod';
import { ForbiddenError } from '../../errors.js';
import type { AgentActivity } from '../../supervisor/options.js';
import { DURABLE, route } from '../route.js';
import { bodies } from '../schemas.js';

/** The owners seen in the tasks joined with those holding a live agent token (viewers are not agents). */
function withTokens(seen: AgentActivity[], live: { owner: string; role: string }[]): (AgentActivity & { token: 'agent' | null })[] {
  const tokened = new Set(live.filter((record) => record.role === 'agent').map((record) => record.owner));
  const answer = seen.map((activity) => ({ ...activity, token: tokened.has(activity.owner) ? ('agent' as const) : null }));
  const known = new Set(seen.map((activity) => activity.owner));
  for (const owner of tokened) {
    if (known.has(owner)) continue;
    answer.push({ owner, leases: [], lastHeartbeatAt: null, lastSeenAt: null, claims: 0, completed: 0, failed: 0, released: 0, reclaimedFrom: 0, token: 'agent' });
  }
  return answer.sort((a, b) => (a.owner < b.owner ? -1 : a.owner > b.owner ? 1 : 0));
}

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
    method: 'GET', url: '/v1/agents/activity', who: 'any',
    summary: 'what every agent holds and has done: each owner with a live agent token (idle ones with zero counts) and each seen in the tasks, by owner',
    answer: 'Array<AgentActivity & { token: "agent" | null }>',
    run: async ({ sup, tokens }) => withTokens(sup.agents(DURABLE), await tokens.list()),
  }),
  route({
    method: 'GET', url: '/v1/stats', who: 'any',
    summary: "the supervisor's stats", answer: 'SupervisorStats',
    run: ({ sup }) => sup.stats(),
  }),
];
