// The lifecycle listeners of a supervisor (`options.on`, `onRecovery`, `sup.on`): who listens to
// which event type, and telling them of events once they are durable, each through `callHook`.
import type { LifecycleEvent, LifecycleEventType } from '../../machines/task.types.js';
import { InvalidInputError } from '../errors.js';
import type { CallHook } from './hooks.js';
import { LIFECYCLE_EVENTS, type Listener } from './options.js';

export function createListeners(callHook: CallHook) {
  const listeners = new Map<LifecycleEventType, Set<{ what: string; listener: (event: LifecycleEvent) => unknown }>>();
  return {
    /** Tells every listener of each event's type, in order. */
    deliver(events: readonly LifecycleEvent[]) {
      for (const event of events) {
        for (const { what, listener } of listeners.get(event.type) ?? []) callHook(what, listener, event);
      }
    },
    /** Adds a listener (named `name` in logs); returns the function that removes it. */
    subscribe<T extends LifecycleEventType>(type: T, listener: Listener<T>, name?: string): () => void {
      if (!(LIFECYCLE_EVENTS as readonly string[]).includes(type)) {
        throw new InvalidInputError('event name', [`expected one of ${LIFECYCLE_EVENTS.join(', ')}`]);
      }
      if (typeof listener !== 'function') throw new InvalidInputError('listener', ['expected a function']);
      // Named only once `type` is known to be an event name (a Symbol would not convert to text).
      const what = name ?? `a "${type}" listener`;
      const set = listeners.get(type) ?? new Set();
      listeners.set(type, set);
      const entry = { what, listener: listener as (event: LifecycleEvent) => unknown };
      set.add(entry);
      return () => void set.delete(entry);
    },
  };
}
