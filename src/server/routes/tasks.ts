// The task routes of the HTTP API v1: create, list and get (admin / any token), the owner
// calls (claim … release, acting for the token's own agent, see auth.ts ownerFor), and the
// operator's quarantine and annotate. Each answers what the supervisor call resolves to; the
// reads answer what is durable (DURABLE), never a change whose write may still fail.
import type { z } from 'zod';
import { TaskNotFoundError } from '../../errors.js';
import type { LeaseProof } from '../../supervisor/inputs.js';
import type { OwnerProof } from '../../supervisor/options.js';
import { ownerFor } from '../auth.js';
import { DURABLE, route, type Call } from '../route.js';
import { bodies, queries } from '../schemas.js';

/** An owner call's body with the owner resolved from the token. */
function asOwner<B extends { owner?: string }>({ request, body }: Pick<Call<B, unknown>, 'request' | 'body'>) {
  const { owner, ...rest } = body;
  // The lease's fields were accepted as unknown: the supervisor checks (or ignores) them as it does in-process.
  return { ...rest, owner: ownerFor(request.identity!, owner) } as Omit<B, 'owner' | keyof LeaseProof> & OwnerProof;
}

type Body<K extends keyof typeof bodies> = z.output<(typeof bodies)[K]>;

/** The owner calls on a leased task: the supervisor method of the same name, the owner from the token. */
type OwnerCall = 'heartbeat' | 'extend' | 'addCompensation' | 'complete' | 'fail' | 'release';

function ownerCallRoute<K extends OwnerCall>(call: K, path: string, summary: string, answer: string) {
  return route<{ owner?: string }>({
    method: 'POST', url: `/v1/tasks/:id/${path}`, who: 'agent', body: bodies[call] as z.ZodType<Body<OwnerCall>>, summary, answer,
    run: (given) => (given.sup[call] as (id: string, input: OwnerProof) => Promise<unknown>)(given.params.id, asOwner(given)),
  });
}

export const taskRoutes = [
  route<Body<'create'>>({
    method: 'POST', url: '/v1/tasks', who: 'admin', status: 201, body: bodies.create,
    summary: 'create a planned task', answer: 'TaskView',
    run: ({ sup, body }) => sup.create(body),
  }),
  route<undefined, z.output<typeof queries.listTasks>>({
    method: 'GET', url: '/v1/tasks', who: 'any', query: queries.listTasks,
    summary: 'list tasks (state: top-level state; owner: current lease owner; label: has that label)', answer: 'TaskView[]',
    run: ({ sup, query }) => sup.list(query, DURABLE),
  }),
  route<undefined, z.output<typeof queries.taskPage>>({
    method: 'GET', url: '/v1/task-page', who: 'any', query: queries.taskPage,
    summary: 'one page of tasks: filtered (state, substate, owner, label, id search), sorted, windowed', answer: 'TaskPage',
    run: ({ sup, query }) => sup.page(query, DURABLE),
  }),
  route({
    method: 'GET', url: '/v1/tasks/:id', who: 'any',
    summary: 'one task', answer: 'TaskView',
    run: ({ sup, params }) => {
      const task = sup.get(params.id, DURABLE);
      if (!task) throw new TaskNotFoundError(params.id);
      return task;
    },
  }),
  route({
    method: 'GET', url: '/v1/tasks/:id/events', who: 'any',
    summary: "the task's lifecycle events still in the event stream's buffer, oldest first, with their stream ids", answer: '{ events: [{ id, event }] }',
    run: ({ sup, events, params }) => {
      if (!sup.get(params.id, DURABLE)) throw new TaskNotFoundError(params.id);
      return { events: events.ofTask(params.id) };
    },
  }),
  route<Body<'claim'>>({
    method: 'POST', url: '/v1/tasks/:id/claim', who: 'agent', body: bodies.claim,
    summary: 'claim one task', answer: 'Lease',
    run: (call) => call.sup.claim(call.params.id, asOwner(call)),
  }),
  route<Body<'claimNext'>>({
    method: 'POST', url: '/v1/claim-next', who: 'agent', body: bodies.claimNext,
    summary: 'claim the highest-priority, then oldest, claimable task with all labels', answer: 'Lease or null',
    run: (call) => call.sup.claimNext(asOwner(call)),
  }),
  ownerCallRoute('heartbeat', 'heartbeat', 'renew your lease; report progress', 'Lease'),
  ownerCallRoute('extend', 'extend', 'expiry = max(current, now + windowMs)', 'Lease'),
  ownerCallRoute('addCompensation', 'compensations', 'add a compensation to the ledger', 'TaskView'),
  ownerCallRoute('complete', 'complete', 'complete the task', 'TaskView'),
  ownerCallRoute('fail', 'fail', 'fail the task (retry with backoff, or compensate)', 'TaskView'),
  ownerCallRoute('release', 'release', 'give the task back, with a recovery hand-off', 'TaskView'),
  route<Body<'quarantine'>>({
    method: 'POST', url: '/v1/tasks/:id/quarantine', who: 'admin', body: bodies.quarantine,
    summary: 'operator kill switch (by "admin")', answer: 'TaskView',
    run: ({ sup, params, body }) => sup.quarantine(params.id, { by: 'admin', reason: body.reason }),
  }),
  route<Body<'annotate'>>({
    method: 'POST', url: '/v1/tasks/:id/annotate', who: 'admin', body: bodies.annotate,
    summary: 'merge JSON metadata', answer: 'TaskView',
    run: ({ sup, params, body }) => sup.annotate(params.id, body.metadata),
  }),
];
