// The bounded lock wait (`lockWaitMs`, issue #12): an opener waits its turn for a lock held by
// a live supervisor, paced and bounded, and still refuses at once with `lockWaitMs: 0`. The
// waits run on a fake `{ now, sleep }` (no test sleeps through them); holders are real: a
// second store in this process, or another process.
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { jsonFileStore, useLockWaitTime, type JsonFileStoreOptions } from '../../src/store/json-file-store.js';
import { FIRST_PAUSE_MS, MAX_LOCK_WAIT_MS, MAX_PAUSE_MS, waitForLock, type LockWaitTime } from '../../src/store/lock-wait.js';
import type { Store } from '../../src/store/types.js';
import { rejection } from '../support.js';
import { createHolders } from './holder.js';

/** Fake time: a sleep returns at once and moves `now` on by what it was asked; `onSleep` runs first. */
function fakeTime(onSleep: (pauses: number[]) => void | Promise<void> = () => {}) {
  const time = { at: 1_000_000, pauses: [] as number[] };
  const source: LockWaitTime = {
    now: () => time.at,
    sleep: async (ms) => {
      time.pauses.push(ms);
      await onSleep(time.pauses);
      time.at += ms;
    },
  };
  return Object.assign(time, { source });
}

describe('waitForLock', () => {
  it('makes one attempt and never sleeps when the wait is 0', async () => {
    const time = fakeTime(() => {
      throw new Error('slept');
    });
    let attempts = 0;
    expect(await waitForLock(async () => void attempts++, 0, time.source)).toBeUndefined();
    expect(attempts).toBe(1);
  });

  it('paces its attempts: from about 10 ms, doubling, jittered, capped, never past the end of the wait', async () => {
    const time = fakeTime();
    let attempts = 0;
    expect(await waitForLock(async () => void attempts++, 5_000, time.source)).toBeUndefined();
    const [first, second] = time.pauses;
    expect(first).toBeGreaterThanOrEqual(FIRST_PAUSE_MS / 2);
    expect(first).toBeLessThanOrEqual(FIRST_PAUSE_MS);
    expect(second).toBeGreaterThanOrEqual(FIRST_PAUSE_MS);
    expect(Math.max(...time.pauses)).toBeLessThanOrEqual(MAX_PAUSE_MS);
    expect(time.pauses.reduce((a, b) => a + b)).toBeCloseTo(5_000, 6);
    // The last try comes at the end of the wait; a 5 s wait is a few dozen tries, not hundreds.
    expect(attempts).toBe(time.pauses.length + 1);
    expect(attempts).toBeGreaterThan(20);
    expect(attempts).toBeLessThan(60);
  });

  it('spreads the pauses of openers that found the lock held together', async () => {
    const pauses = [0.01, 0.99].map(async (share) => {
      const time = fakeTime();
      await waitForLock(async () => undefined, 100, time.source, () => share);
      return time.pauses.slice(0, 3);
    });
    const [low, high] = await Promise.all(pauses);
    expect(low).not.toEqual(high);
  });

  it('ends on the pauses it asked for when the clock stands still, and on the clock when it jumps ahead', async () => {
    const still = fakeTime();
    still.source.sleep = async (ms) => void still.pauses.push(ms);
    await waitForLock(async () => undefined, 1_000, still.source);
    expect(still.pauses.reduce((a, b) => a + b)).toBeCloseTo(1_000, 6);
    expect(still.pauses.length).toBeLessThanOrEqual((2 * 1_000) / FIRST_PAUSE_MS + 2);

    const jumping = fakeTime();
    jumping.source.sleep = async (ms) => {
      jumping.pauses.push(ms);
      jumping.at += 10 * 60_000;
    };
    await waitForLock(async () => undefined, 1_000, jumping.source);
    expect(jumping.pauses).toHaveLength(1);
  });

  it('returns what the first successful attempt gives, without further pauses', async () => {
    const time = fakeTime();
    let attempts = 0;
    expect(await waitForLock(async () => (++attempts === 3 ? 'lock' : undefined), 1_000, time.source)).toBe('lock');
    expect(time.pauses).toHaveLength(2);
  });
});

describe('jsonFileStore lockWaitMs', () => {
  let dir: string;
  let file: string;
  const opened: Store[] = [];
  const holders = createHolders();

  function store(options?: JsonFileStoreOptions, time?: LockWaitTime): Store {
    const created = jsonFileStore(file, options);
    if (time) useLockWaitTime(created, time);
    opened.push(created);
    return created;
  }

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'leasehold-lock-wait-'));
    file = join(dir, 'store.json');
  });

  afterEach(async () => {
    for (const s of opened.splice(0)) await s.close();
    await holders.killAll();
    await rm(dir, { recursive: true, force: true });
  });

  it('opens once the holder closes within the wait', async () => {
    const holder = store();
    await holder.open();
    const time = fakeTime(async (pauses) => {
      if (pauses.length === 3) await holder.close();
    });
    await expect(store({ lockWaitMs: 60_000 }, time.source).open()).resolves.toBeDefined();
    expect(time.pauses).toHaveLength(3);
  });

  it('refuses with STORE_LOCKED once the wait has passed, saying how long it waited and who holds the store', async () => {
    const holder = await holders.hold(file);
    const time = fakeTime();
    const started = performance.now();
    const error = await rejection(store({ lockWaitMs: 60_000 }, time.source).open());
    expect(error.code).toBe('STORE_LOCKED');
    expect(error.message).toContain('waited 60000 ms');
    expect(error.message).toContain(`pid ${holder.pid}`);
    expect(time.pauses.reduce((a, b) => a + b)).toBeCloseTo(60_000, 6);
    expect(time.pauses.length).toBeLessThanOrEqual(2 * (60_000 / FIRST_PAUSE_MS) + 2);
    // A minute of waiting on the fake time, a few hundred lock attempts of real time.
    expect(performance.now() - started).toBeLessThan(20_000);
    expect(await rejection(store().open())).toMatchObject({ code: 'STORE_LOCKED' });
  });

  it('with lockWaitMs 0 (the default) refuses at once, without sleeping', async () => {
    await holders.hold(file);
    const time = fakeTime(() => {
      throw new Error('slept');
    });
    for (const options of [{ lockWaitMs: 0 }, {}]) {
      const error = await rejection(store(options, time.source).open());
      expect(error.code).toBe('STORE_LOCKED');
      expect(error.message).not.toContain('waited');
    }
    expect(time.pauses).toEqual([]);
  });

  it('takes over the lock of a holder that dies during the wait', async () => {
    const holder = await holders.hold(file);
    const time = fakeTime(async (pauses) => {
      if (pauses.length === 2) {
        holder.kill('SIGKILL');
        await once(holder, 'exit');
      }
    });
    await expect(store({ lockWaitMs: 10_000 }, time.source).open()).resolves.toBeDefined();
    expect(time.pauses).toHaveLength(2);
  });

  it('waits in real time for another process that closes the store shortly', async () => {
    const holder = await holders.hold(file);
    const waiting = store({ lockWaitMs: 20_000 }).open();
    setTimeout(() => holder.stdin?.end(), 100);
    await expect(waiting).resolves.toBeDefined();
    expect(holder.exitCode ?? (await once(holder, 'exit'))[0]).toBe(0);
  });

  it('refuses a lockWaitMs that is not a number of milliseconds from 0 to an hour with INVALID_INPUT', () => {
    for (const lockWaitMs of [-1, Number.NaN, Infinity, MAX_LOCK_WAIT_MS + 1, 1e12, '100' as unknown as number]) {
      let error: unknown;
      try {
        jsonFileStore(file, { lockWaitMs });
      } catch (caught) {
        error = caught;
      }
      expect(error, String(lockWaitMs)).toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining('lockWaitMs') });
    }
    expect(() => jsonFileStore(file, { lockWaitMs: MAX_LOCK_WAIT_MS })).not.toThrow();
  });
});
