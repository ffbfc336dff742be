// The call path: a public call is admitted through the supervisor actor's mailbox, runs to
// completion at once, and settles only once the writes its answer rests on are durable. Owns
// the scope of the call being run (the tasks it reads or changes).
import type { Clock } from '../clock/clock.js';
import { SupervisorClosedError } from '../errors.js';
import type { GroupCommit } from './group-commit.js';

/** The tasks the command being run reads or changes: its answer rests on their writes. */
interface CallScope {
  tasks: Set<string>;
}

export interface MailboxOptions {
  /** Sends the command to the supervisor actor; true when it was admitted (the supervisor is running). */
  admit: () => boolean;
  clock: Pick<Clock, 'runDue'>;
  commit: Pick<GroupCommit, 'durable' | 'urge'>;
  /** What a call that was not admitted is refused with (default SUPERVISOR_CLOSED). */
  refusal?: () => Error;
}

export function createMailbox({ admit, clock, commit, refusal = () => new SupervisorClosedError() }: MailboxOptions) {
  let call: CallScope | null = null;

  /**
   * Admits a command through the supervisor's mailbox, then runs `work` to completion at
   * once (nothing else can run in between) after firing any timer already due, so a lease
   * expiring at t is stale for a call at t. The call settles once the writes its answer rests
   * on are durable: what it changed, and what is still pending on the tasks it read (so a
   * refusal or a call that changed nothing never reports a state the disk may not keep). One
   * that names no task (claimNext finding nothing, a sweep) waits for every pending write.
   */
  const dispatch = <T>(work: () => T): Promise<T> => {
    if (!admit()) return Promise.reject(refusal());
    let settle: (resolve: (value: T) => void, reject: (error: unknown) => void) => void;
    clock.runDue();
    const own: CallScope = { tasks: new Set() };
    call = own;
    try {
      const value = work();
      settle = (resolve) => resolve(value);
    } catch (error) {
      settle = (_, reject) => reject(error);
    } finally {
      call = null;
    }
    const durable = commit.durable(own.tasks.size === 0 ? undefined : own.tasks);
    commit.urge();
    return durable.then(() => new Promise(settle));
  };

  return {
    dispatch,
    /** Records that the command being run (if any) read or changed task `id`. */
    involve: (id: string) => void call?.tasks.add(id),
  };
}

export type Mailbox = ReturnType<typeof createMailbox>;

/** Validation errors reject the returned promise instead of throwing synchronously. */
export function guarded<T>(call: () => Promise<T>): Promise<T> {
  try {
    return call();
  } catch (error) {
    return Promise.reject(error);
  }
}
