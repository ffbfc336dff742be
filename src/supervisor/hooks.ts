// Calling the functions the embedding code gave the supervisor — lifecycle listeners
// (`options.on`, `sup.on`), `onRecovery`, stats subscribers, the inspection observer, the
// logger itself. They are trusted but fallible (DESIGN: "a throw, a rejection or a hang is
// logged and grants nothing"): a sync throw is caught, a returned promise or other thenable
// has its rejection caught, and both are reported through logger.warn naming the hook. Left
// alone, an async listener's rejection is an unhandled rejection, and Node exits with code 1.
// Compensators, the lease policy and probes are awaited where they run (task-logic.ts).
import type { InspectionEvent } from 'xstate';
import type { Logger } from '../logger.js';
import type { InspectionObserver } from './task-runner.js';

const isThenable = (value: unknown): value is PromiseLike<unknown> =>
  value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as { then?: unknown }).then === 'function';

/** Calls `hook(...args)`; what it throws or rejects with is logged as `leasehold: <what> threw|rejected`. */
export type CallHook = <A extends unknown[]>(what: string, hook: (...args: A) => unknown, ...args: A) => void;

export function hookCaller(logger: Logger): CallHook {
  return (what, hook, ...args) => {
    let result: unknown;
    try {
      result = hook(...args);
    } catch (error) {
      logger.warn(`leasehold: ${what} threw`, error);
      return;
    }
    // Promise.resolve adopts any thenable, and turns a `then` that throws into a rejection too.
    if (isThenable(result)) Promise.resolve(result).catch((error: unknown) => logger.warn(`leasehold: ${what} rejected`, error));
  };
}

/** The inspection observer (a function or an observer), called through `callHook`. */
export function guardedInspect(callHook: CallHook, observer: InspectionObserver | undefined): InspectionObserver | undefined {
  if (observer === undefined) return undefined;
  const next = typeof observer === 'function' ? observer : (event: InspectionEvent) => observer.next?.(event);
  return (event: InspectionEvent) => callHook('the inspect observer', next, event);
}

/**
 * The logger, made unable to fail its caller: a logger that throws or rejects loses its line
 * rather than, say, failing the commit whose listener it was reporting on.
 */
export function safeLogger(logger: Logger): Logger {
  const guard =
    (method: (message: string, ...details: unknown[]) => unknown) =>
    (message: string, ...details: unknown[]) => {
      try {
        const result = method.call(logger, message, ...details);
        if (isThenable(result)) Promise.resolve(result).catch(() => {});
      } catch {
        // Nowhere left to report it.
      }
    };
  return { warn: guard(logger.warn), ...(typeof logger.info === 'function' ? { info: guard(logger.info) } : {}) };
}
