// The task machine made real for one supervisor: its delays read the injected clock, its
// `compensate` actor runs the registered compensators (ledger on disk first), and its
// `decideGrace` actor asks the lease policy and the extension probes, outside the
// supervisor's command processing, whether a lease whose grace ended gets more time.
import { fromPromise } from 'xstate';
import { taskMachine } from '../../machines/task.machine.js';
import type {
  CompensationFailure,
  CompensationInput,
  CompensationOutcome,
  GraceOutcome,
  TaskContext,
} from '../../machines/task.types.js';
import type { Clock, TimerHandle } from '../clock/clock.js';
import type { Logger } from '../logger.js';
import type { ExtensionProbe, GraceExtension, GraceInput, LeasePolicy } from '../policy/types.js';
import { taskDelays } from '../task/deadlines.js';
import { copyJson, type TaskView } from '../task/view.js';
import type { GroupCommit } from './group-commit.js';
import type { TaskWork } from './task-runner.js';
import type { Compensator } from './types.js';
import { createLeaseTerms, UNUSABLE } from './lease-terms.js';

interface Dependencies {
  clock: Clock;
  commit: GroupCommit;
  compensators: Record<string, Compensator>;
  probes: ExtensionProbe[];
  policyFor: (context: TaskContext) => LeasePolicy;
  /** The task's current view and context, by id. */
  current: (taskId: string) => { view: TaskView; context: TaskContext };
  logger: Logger;
  /** How long an extension probe may take before it counts as failed (injected clock). */
  probeTimeoutMs: number;
  /** How long one compensation attempt may take before it counts as failed (injected clock). */
  compensationTimeoutMs: number;
}

const TIMED_OUT = Symbol('timed out');

const isThenable = (value: unknown): value is PromiseLike<unknown> =>
  value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as { then?: unknown }).then === 'function';

export function createTaskLogic({ clock, commit, compensators, probes, policyFor, current, logger, probeTimeoutMs, compensationTimeoutMs }: Dependencies) {
  const terms = createLeaseTerms(logger);
  /** Work started for tasks that the test clock waits for before it says "settled". */
  const inFlight = { compensations: new Set<Promise<unknown>>(), decisions: new Set<Promise<unknown>>() };
  const tracked = async <T>(set: Set<Promise<unknown>>, run: Promise<T>) => {
    set.add(run);
    try {
      return await run;
    } finally {
      set.delete(run);
    }
  };

  const compensate = (input: CompensationInput): Promise<CompensationOutcome> =>
    tracked(
      inFlight.compensations,
      (async () => {
        const failure = (message: string, missingHandler = false): CompensationFailure => ({ at: clock.now(), message, missingHandler });
        // The ledger must say "running" on disk before the side effect starts.
        await Promise.resolve();
        commit.touch(input.taskId);
        try {
          await commit.durable([input.taskId]);
        } catch (error) {
          throw failure(`could not record the attempt: ${(error as Error).message}`);
        }
        const { action, args } = input.entry;
        const handler = Object.hasOwn(compensators, action) ? compensators[action] : undefined;
        if (!handler) throw failure(`no compensator registered for "${action}"`, true);
        // Closed while the attempt was being recorded: the next open runs it (it is on disk as running).
        if (stopped) throw failure('the supervisor closed before the handler was called');
        let outcome: unknown;
        try {
          const run = Promise.resolve().then(() => handler(copyJson(args), current(input.taskId).view));
          outcome = await bounded(run, compensationTimeoutMs, () => TIMED_OUT);
        } catch (error) {
          throw failure(error instanceof Error ? error.message : String(error));
        }
        // A hung handler must not hold its task in failed.running forever: the attempt counts as
        // failed, is retried after the backoff and finally quarantines the task.
        if (outcome === TIMED_OUT) throw failure(`did not finish within ${compensationTimeoutMs} ms`);
        return { at: clock.now() };
      })(),
    );

  /** Timers bounding work still running (probes, compensations), cancelled when the supervisor closes. */
  const workTimers = new Set<TimerHandle>();
  /** Set when the supervisor closes. */
  let stopped = false;

  /** What `answer` settles to, or what `late()` gives once `ms` of the injected clock pass first. */
  const bounded = <T, L>(answer: PromiseLike<T>, ms: number, late: () => L): Promise<T | L> =>
    new Promise((resolve, reject) => {
      // Once closed, nothing is waited for: an armed timer would only keep the process alive.
      if (stopped) return resolve(late());
      const timer = clock.setTimeout(() => {
        workTimers.delete(timer);
        resolve(late());
      }, ms);
      workTimers.add(timer);
      const done = () => {
        workTimers.delete(timer);
        clock.clearTimeout(timer);
      };
      Promise.resolve(answer).then(
        (value) => {
          done();
          resolve(value);
        },
        (error: unknown) => {
          done();
          reject(error);
        },
      );
    });

  /**
   * One probe's answer, never a rejection: a throw, a value that is not a promise, a rejection
   * or no answer within `probeTimeoutMs` of the injected clock is logged and answers UNUSABLE.
   */
  const askProbe = async (probe: ExtensionProbe, grace: GraceInput, taskId: string): Promise<unknown> => {
    const failed = (what: string, error?: unknown) => {
      logger.warn(`leasehold: an extension probe ${what} for task "${taskId}"; it grants nothing`, ...(error === undefined ? [] : [error]));
      return UNUSABLE;
    };
    let answer: unknown;
    try {
      answer = probe(grace);
    } catch (error) {
      return failed('threw', error);
    }
    if (!isThenable(answer)) return failed(`returned ${answer === null ? 'null' : typeof answer} instead of a promise`);
    return bounded(answer, probeTimeoutMs, () => failed(`did not answer within ${probeTimeoutMs} ms`)).catch((error: unknown) => failed('failed', error));
  };

  /** The policy's extension, or null; a throw or an answer that is a promise is logged: UNUSABLE. */
  const askPolicy = (context: TaskContext, grace: GraceInput, taskId: string): GraceExtension | null | typeof UNUSABLE => {
    let policy: LeasePolicy | undefined;
    try {
      policy = policyFor(context);
      const answer: unknown = policy.extendGrace?.(grace) ?? null;
      if (isThenable(answer)) {
        // extendGrace is synchronous by contract; a rejection of the ignored promise is not unhandled.
        Promise.resolve(answer).catch(() => {});
        logger.warn(`leasehold: the lease policy "${policy.name}" answered extendGrace with a promise for task "${taskId}"; it must answer synchronously, so it grants nothing`);
        return UNUSABLE;
      }
      return terms.extension(answer, `the lease policy "${policy.name}"`, taskId);
    } catch (error) {
      logger.warn(`leasehold: the lease policy "${policy?.name ?? '?'}" failed to decide grace for task "${taskId}"; it grants nothing`, error);
      return UNUSABLE;
    }
  };

  const decideGrace = (input: { taskId: string }): Promise<GraceOutcome> =>
    tracked(
      inFlight.decisions,
      (async () => {
        // Every failure is logged where it happens and grants nothing. When nothing was granted
        // and something failed, the decision rejects: the machine's onError ends grace exactly
        // as a decline does, and the diagram shows that path.
        const { view, context } = current(input.taskId);
        const grace: GraceInput = {
          task: view,
          now: clock.now(),
          heartbeats: [...(context.lease?.heartbeats ?? [])],
          extensions: { ...(context.lease?.graceExtensions ?? {}) },
        };
        let failures = 0;
        const take = (answer: GraceExtension | null | typeof UNUSABLE) => {
          if (answer !== UNUSABLE) return answer;
          failures++;
          return null;
        };
        let extension = take(askPolicy(context, grace, input.taskId));
        for (const probe of probes) {
          if (extension) break;
          const answer = await askProbe(probe, grace, input.taskId);
          extension = take(answer === UNUSABLE ? UNUSABLE : terms.extension(answer, 'an extension probe', input.taskId));
        }
        if (!extension && failures > 0) throw new Error(`grace decision for task "${input.taskId}": ${failures} answer(s) failed and nothing was granted`);
        return { at: clock.now(), extension };
      })(),
    );

  const logic = taskMachine.provide({
    delays: taskDelays(clock),
    // The runner starts no actors: it reads `src` off the child XState creates and runs `work`.
    actors: {
      compensate: fromPromise<CompensationOutcome, CompensationInput>(({ input }) => compensate(input)),
      decideGrace: fromPromise<GraceOutcome, { taskId: string }>(({ input }) => decideGrace(input)),
    },
    guards: { consultsPolicy: ({ context }) => probes.length > 0 || typeof policyFor(context).extendGrace === 'function' },
  });

  const work = { compensate, decideGrace } as TaskWork;
  /** Cancels the timers of work still running (its outcome no longer matters). */
  const stop = () => {
    stopped = true;
    for (const timer of workTimers) clock.clearTimeout(timer);
    workTimers.clear();
  };
  return { logic, work, inFlight, stop };
}

