// An agent's calls across a daemon restart, the way README "Client" says to make them: reads
// are retried by the client itself (and here once more, until the daemon is back); a write that
// got UNAVAILABLE is sent again only when it surely did not go out, and otherwise looked up
// with get() first: if the task shows it landed, that is the answer; if not, it is repeated.
import type { Client, TaskView } from '../client/index.js';
import { report } from './channel.js';
import { pause } from './timing.js';

/** How long an agent waits for the daemon to come back. */
const PATIENCE_MS = 10_000;
const unavailable = (error: unknown) => (error as { code?: unknown }).code === 'UNAVAILABLE';
const notSent = (error: unknown) => String((error as Error).message).includes('(the write was not sent)');

/**
 * Calls `attempt` until it answers, waiting out an unavailable daemon (`retry` before each new
 * try); the first UNAVAILABLE of a write (`what`) is reported.
 */
async function patiently<T>(attempt: () => Promise<T>, retry: (error: unknown) => Promise<T | undefined>, what?: string): Promise<T> {
  const deadline = Date.now() + PATIENCE_MS;
  for (let told = what === undefined; ; ) {
    try {
      return await attempt();
    } catch (error) {
      if (!unavailable(error) || Date.now() > deadline) throw error;
      if (!told) report(`${what}: UNAVAILABLE (${notSent(error) ? 'not sent' : 'may have landed'}); waiting for the daemon`);
      told = true;
      await pause(100);
      const settled = await retry(error);
      if (settled !== undefined) return settled;
    }
  }
}

/** The task as the daemon has it now, waiting for the daemon if it is restarting. */
export const lookUp = async (agent: Client, taskId: string): Promise<TaskView | undefined> =>
  patiently(() => agent.get(taskId), async () => undefined);

/**
 * A write that lands once: on UNAVAILABLE it is repeated if it was not sent, else the task is
 * looked up and `landed(task)` says whether (and with what answer) it already took effect.
 */
export async function write<T>(agent: Client, taskId: string, what: string, call: () => Promise<T>, landed: (task: TaskView) => T | undefined): Promise<T> {
  return patiently(
    call,
    async (error) => {
      if (notSent(error)) return undefined;
      const task = await lookUp(agent, taskId);
      const answer = task && landed(task);
      report(`${what}: get(${taskId}) shows it ${answer === undefined ? 'did not land: sending it again' : 'landed: not repeating it'}`);
      return answer;
    },
    `${what} ${taskId}`,
  );
}

/** claimNext across a restart: a claim that may have landed is found among the agent's own leases. */
export async function claimNext(agent: Client, owner: string) {
  return patiently(
    () => agent.claimNext(),
    async (error) => {
      if (notSent(error)) return undefined;
      const mine = await patiently(() => agent.list({ owner }), async () => undefined);
      return mine[0]?.lease ?? undefined;
    },
    'claimNext',
  );
}
