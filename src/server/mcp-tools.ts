// The MCP tools of the service, written once as data: each tool's name, the description an LLM
// acts on, its zod input shape (built from the library's own schemas, src/supervisor/inputs.ts:
// the same shape gives tools/list its JSON Schema and parses the arguments) and the supervisor
// call it makes. mcp.ts registers them on the daemon's `/mcp`; `leasehold
// mcp` (src/cli/mcp.ts) serves the very same list over stdio by forwarding to `/mcp`. Also owns
// how an answer reads to an agent: a result is JSON text (recovery hand-off first) plus
// `structuredContent`; a refusal is a tool error `CODE (reason): message` and what to do next.
import { z } from 'zod';
import { errorBody, LeaseholdError, TaskNotFoundError } from '../errors.js';
import * as inputs from '../supervisor/inputs.js';
import { parse } from '../supervisor/inputs.js';
import type { Supervisor } from '../supervisor/options.js';
import type { Lease, TaskView } from '../task/view.js';
import { DURABLE } from './route.js';
import { jsonSchemaOf } from './schemas.js';

/** What a tool answers: a lease (or none, for claim_next), or the task as it now is. */
export type ToolAnswer = { lease: Lease | null } | { task: TaskView };

export interface ToolDefinition {
  name: string;
  description: string;
  /** `agent`: an owner call (the token's own agent, or the admin naming `owner`); `any`: a read. */
  who: 'agent' | 'any';
  input: z.ZodRawShape;
  /** The call itself renews, grants or ends the lease on its `taskId`: mcpTouch leaves that one alone. */
  leasesTarget?: true;
  /** `owner` is resolved from the token (undefined for a read). */
  run(sup: Supervisor, owner: string | undefined, args: Record<string, unknown>): Promise<ToolAnswer>;
}

/** Told to every agent at initialize: how leases and fencing work, in a few lines. */
export const MCP_INSTRUCTIONS =
  'leasehold hands out durable task leases. Take work with claim_next (or claim a known task), then keep the lease alive ' +
  'with heartbeat (report progress 0-100 and a short message for whoever takes over) until you complete, fail or release the task. ' +
  'Fencing: every lease has an epoch; pass back exactly the epoch you were given on every call about that task. ' +
  'A refusal tells you its code and reason; LEASE_CONFLICT (stale_epoch) or (not_owner) means the task is no longer yours: stop working on it. ' +
  'When a claim carries a recovery hand-off, read its instructions first: a previous agent started this task.';

const taskId = inputs.taskId.describe('The task id (the lease\'s "taskId").');
const epoch = inputs.epoch.describe('The epoch of your lease, exactly as claim or claim_next gave it (fencing: a stale epoch is refused).');
const owner = inputs.name
  .optional()
  .describe('Leave out: your token names you. Only an operator using the admin token names the agent it acts for.');
const leaseMs = inputs.claimShape.leaseMs.describe("Lease duration in ms (default: the task's own).");
const json = z.unknown();

const owned = (shape: z.ZodRawShape) => ({ taskId, epoch, owner, ...shape });

/** An owner call on a leased task: the supervisor method of that name, with owner and epoch. */
function ownerCall(method: 'heartbeat' | 'extend' | 'addCompensation' | 'complete' | 'fail' | 'release', answer: 'lease' | 'task') {
  return async (sup: Supervisor, by: string | undefined, { taskId: id, ...args }: Record<string, unknown>): Promise<ToolAnswer> => {
    const value = await (sup[method] as (id: string, input: unknown) => Promise<Lease | TaskView>)(id as string, { ...args, owner: by! });
    return answer === 'lease' ? { lease: value as Lease } : { task: value as TaskView };
  };
}

export const MCP_TOOLS: readonly ToolDefinition[] = [
  {
    name: 'claim_next',
    who: 'agent',
    description:
      'Take the next task to work on: leases the highest-priority, then oldest, claimable task (with all the given labels) to you. ' +
      'Answers the lease (taskId, epoch, expiresAt, the task spec is in get_task) or null when nothing is claimable now. ' +
      'Keep the epoch: every later call about this task must pass it. If the answer starts with a RECOVERY HAND-OFF, read it first.',
    input: { owner, leaseMs, labels: inputs.claimNextShape.labels.describe('Only tasks that carry every one of these labels.') },
    run: async (sup, by, args) => ({ lease: await sup.claimNext({ ...args, owner: by! }) }),
  },
  {
    name: 'claim',
    who: 'agent',
    leasesTarget: true,
    description:
      'Lease one task you know by id (a planned task, or one whose lease expired). Answers the lease; keep its epoch for every later call. ' +
      'If the answer starts with a RECOVERY HAND-OFF, a previous agent worked on this task: read its instructions before you start.',
    input: { taskId, owner, leaseMs },
    run: async (sup, by, { taskId: id, ...args }) => ({ lease: await sup.claim(id as string, { ...args, owner: by! }) }),
  },
  {
    name: 'heartbeat',
    who: 'agent',
    leasesTarget: true,
    description:
      'Renew your lease before it expires (well within leaseMs), optionally reporting progress (0-100) and a short message ' +
      'that a later agent would read if it had to take over. Answers the renewed lease (new expiresAt). Pass the epoch you were given.',
    input: owned({
      leaseMs: inputs.ownerCallShapes.heartbeat.leaseMs.describe('Renew by this much (default: the lease\'s own duration).'),
      progress: inputs.ownerCallShapes.heartbeat.progress.describe('How far along you are, 0-100 (kept at its maximum).'),
      message: inputs.ownerCallShapes.heartbeat.message.describe('What you have done and what is left, for whoever takes over.'),
    }),
    run: ownerCall('heartbeat', 'lease'),
  },
  {
    name: 'extend',
    who: 'agent',
    leasesTarget: true,
    description:
      'Make sure your lease lasts at least windowMs from now, before a long step (a build, a test run) during which you cannot heartbeat. ' +
      'Never shortens a lease. Answers the lease. Pass the epoch you were given.',
    input: owned({ windowMs: inputs.ownerCallShapes.extend.windowMs.describe('The window from now, in ms.') }),
    run: ownerCall('extend', 'lease'),
  },
  {
    name: 'add_compensation',
    who: 'agent',
    description:
      'Record an undo step right after you did something with a side effect (pushed a branch, opened a PR, created a resource): ' +
      'if the task fails for good, its compensations run newest first. Answers the task. Pass the epoch you were given.',
    input: owned({
      action: inputs.ownerCallShapes.addCompensation.action.describe('The compensator\'s name, e.g. "delete-branch".'),
      args: json.optional().describe('JSON arguments for the compensator, e.g. {"branch": "agent/login"}.'),
    }),
    run: ownerCall('addCompensation', 'task'),
  },
  {
    name: 'complete',
    who: 'agent',
    leasesTarget: true,
    description: 'Finish the task successfully, with an optional JSON result. Answers the completed task. Pass the epoch you were given.',
    input: owned({ result: json.optional().describe('JSON result, e.g. {"pr": 42}.') }),
    run: ownerCall('complete', 'task'),
  },
  {
    name: 'fail',
    who: 'agent',
    leasesTarget: true,
    description:
      'Report that the task failed. With retryable: true (a transient cause: CI down, rate limit) it is retried after a backoff while attempts remain; ' +
      'otherwise its compensations run. Answers the task. Pass the epoch you were given.',
    input: owned({
      error: inputs.ownerCallShapes.fail.error.describe('What went wrong.'),
      retryable: inputs.ownerCallShapes.fail.retryable.describe('The cause is transient: try again later.'),
    }),
    run: ownerCall('fail', 'task'),
  },
  {
    name: 'release',
    who: 'agent',
    leasesTarget: true,
    description:
      'Give the task back unfinished (out of budget, blocked, wrong skills): it returns to planned with a recovery hand-off built from your ' +
      'last heartbeat, for the next agent. Answers the task. Pass the epoch you were given.',
    input: owned({ reason: inputs.ownerCallShapes.release.reason.describe('Why you give it back.') }),
    run: ownerCall('release', 'task'),
  },
  {
    name: 'get_task',
    who: 'any',
    description: 'Read one task: its spec, state, current lease, progress, compensations and recovery hand-off. Changes nothing.',
    input: { taskId },
    run: async (sup, _by, { taskId: id }) => {
      const task = sup.get(id as string, DURABLE);
      if (!task) throw new TaskNotFoundError(id as string);
      return { task };
    },
  },
];

/** Each tool's arguments, parsed strictly (an unknown argument is INVALID_INPUT, as on the HTTP API). */
const schemas = new Map(MCP_TOOLS.map((tool) => [tool.name, z.strictObject(tool.input)]));

/** The tools as `tools/list` answers them: name, description and the JSON Schema of the arguments (built once). */
export const LISTED_TOOLS = MCP_TOOLS.map((tool) => ({
  name: tool.name,
  description: tool.description,
  inputSchema: jsonSchemaOf(schemas.get(tool.name)!) as { type: 'object'; [key: string]: unknown },
}));

/** A tool's arguments, parsed with the library's own `parse`: INVALID_INPUT names every problem. */
export const argumentsOf = (tool: ToolDefinition, given: unknown): Record<string, unknown> =>
  parse(schemas.get(tool.name)!, given ?? {}, `${tool.name} arguments`);

/** A tool's answer as MCP content: a line an agent reads first, then the JSON (also as structuredContent). */
export function toolResult(answer: ToolAnswer) {
  const lines: string[] = [];
  if ('task' in answer) {
    lines.push(`Task "${answer.task.id}" is ${answer.task.state}.`);
  } else if (answer.lease === null) {
    lines.push('No claimable task right now: nothing to do; call claim_next again later.');
  } else {
    const { lease } = answer;
    if (lease.recovery) {
      lines.push(
        `RECOVERY HAND-OFF — read before you start. ${lease.recovery.previousOwner} worked on this task before you ` +
          `(epoch ${lease.recovery.previousEpoch}, progress ${lease.recovery.progress}%, ended: ${lease.recovery.reason}).`,
        `Instructions: ${lease.recovery.instructions}`,
        '',
      );
    }
    lines.push(
      `You hold task "${lease.taskId}" with epoch ${lease.epoch} until ${new Date(lease.expiresAt).toISOString()}: ` +
        `pass epoch ${lease.epoch} on every call about it, and heartbeat before it expires.`,
    );
  }
  return {
    content: [{ type: 'text' as const, text: `${lines.join('\n')}\n${JSON.stringify(answer, null, 2)}` }],
    structuredContent: answer as unknown as Record<string, unknown>,
  };
}

/** What an agent should do after a refusal, by code (and reason). */
const NEXT: Record<string, string> = {
  'LEASE_CONFLICT:stale_epoch':
    'That is not the current lease\'s epoch. If you passed the epoch you were given, the task was leased again and is no longer yours: stop working on it and call claim_next.',
  'LEASE_CONFLICT:not_owner': 'Another agent holds this task: stop working on it and call claim_next.',
  'LEASE_CONFLICT:held': 'Another agent holds this task: pick other work with claim_next.',
  'LEASE_CONFLICT:in_grace': "The previous holder's lease is in its grace period: pick other work with claim_next, or try again later.",
  'LEASE_CONFLICT:expired': 'Your lease expired: stop, then claim the task again (claim) if it is still claimable, and read its recovery hand-off.',
  'LEASE_CONFLICT:no_lease': 'The task is not leased: claim it first.',
  'LEASE_CONFLICT:not_extending': 'The lease already lasts at least that long: nothing to do.',
  'LEASE_CONFLICT:backoff': 'The task waits out a retry backoff: pick other work with claim_next, or try again later.',
  TERMINAL_TASK: 'The task is finished: nothing more to do on it; call claim_next.',
  TASK_NOT_FOUND: 'Check the taskId (it is in the lease claim or claim_next gave you).',
  INVALID_INPUT: 'Fix the arguments named above and call again.',
  FORBIDDEN: 'This token may not do that. Act only as yourself: leave owner out.',
  UNAUTHORIZED: 'The token is missing, unknown or revoked: ask the operator for a token (leasehold agent add NAME).',
  STORE_WRITE_FAILED: 'Nothing was acknowledged: try the same call again shortly.',
  SUPERVISOR_CLOSED: 'The service is shutting down: try again shortly.',
  UNAVAILABLE: 'The service did not answer: try the same call again shortly (get_task first if it was a write, to see whether it landed).',
};

/** A refusal as an MCP tool error: `CODE (reason): message`, the issues, and what to do next. */
export function toolError(error: LeaseholdError) {
  const body = errorBody(error);
  const next = NEXT[body.reason === undefined ? body.code : `${body.code}:${body.reason}`] ?? NEXT[body.code];
  const lines = [
    `${body.code}${body.reason === undefined ? '' : ` (${body.reason})`}: ${body.message}`,
    ...(body.issues ?? []).map((issue) => `- ${issue}`),
    ...(next ? [`Next: ${next}`] : []),
  ];
  return { content: [{ type: 'text' as const, text: lines.join('\n') }], structuredContent: { error: body }, isError: true };
}

/** Any thrown value as the error a tool answers with (an unexpected one is INTERNAL_ERROR). */
export const asLeaseholdError = (error: unknown): LeaseholdError =>
  error instanceof LeaseholdError ? error : new LeaseholdError('INTERNAL_ERROR', 'the server failed to answer (see its log)');
