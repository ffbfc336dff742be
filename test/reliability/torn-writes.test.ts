// Torn writes (issue 7, item 2): a store's files as a crash or a bad disk could leave them —
// truncated at a random offset, with garbage appended (random bytes, half a JSON line, a
// whole garbage line, whitespace), with the line being appended when the process died torn
// off part-way (journal), or with a half-written temp file beside them — must either open to
// an acknowledged state or be refused with STORE_CORRUPT and left byte-for-byte as they were
// (lock released). Never silently wrong: the plain JSON file must open only to exactly the
// last acknowledged state; a journal whose unacknowledged last line is torn must open to
// exactly the last acknowledged state; a journal cut inside its acknowledged lines can only
// be read up to its last complete line (a file system that honours fsync never does that;
// the store cannot tell it from a torn last line), so it must open to exactly the state of
// one of its earlier acknowledged commits — never a mix, never invented data. A store that
// opened must then take a write and open again with it.
//
// Each history is a seeded run of calls on a live supervisor (test clock); the store's files
// are copied after the last acknowledged call, as a SIGKILL would leave them, and damaged in
// many ways. LEASEHOLD_TORN_TRIALS sets the damaged copies per store kind (default 120).
import { existsSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createSupervisor, LeaseholdError, type Store, type Supervisor, type TaskRecord } from '../../src/index.js';
import { compactionsSettled } from '../../src/store/json-file-store.js';
import { createTestClock, type TestClock } from '../../src/testing.js';
import { countFromEnv, filesOf, lockHeld, random, report, seedFromEnv, storeKinds, tempDir, type Random, type StoreKind } from './support.js';

const TRIALS = countFromEnv('LEASEHOLD_TORN_TRIALS', 120);
const PER_HISTORY = 12;
const SEED = seedFromEnv();
const T0 = Date.UTC(2026, 0, 1);

type Outcome = 'refused untouched' | 'recovered exactly' | 'recovered to an earlier commit';
const outcomes = new Map<string, number>();
afterAll(() => {
  report(
    `torn writes (seed ${SEED}): ${[...outcomes].map(([k, n]) => `${k}: ${n}`).join(', ')}; never silently wrong, never opened to a state that was not acknowledged`,
  );
});

// ---------------------------------------------------------------------------------------
// an acknowledged history, and the files it left

interface History {
  kind: StoreKind;
  /** The data files after the last acknowledged call, as a SIGKILL then would leave them. */
  image: Map<string, Buffer>;
  /** The records after each durable commit up to then, as canonical JSON (what a raw open returns). */
  states: string[];
  /** The bytes the next, unacknowledged commit appended to the journal (journal kind, no compaction). */
  nextLine: Buffer | undefined;
  at: number;
}

const JOURNAL = 'store.json.journal';

async function history(kind: StoreKind, r: Random): Promise<History> {
  const folder = tempDir('torn-history');
  const file = join(folder.dir, 'store.json');
  const clock = createTestClock(T0);
  const inner = kind.make(file, { compactBytes: r.chance(0.3) ? 1_500 : 1 << 20 });
  // Every durable commit, calls and timers and compensation steps alike, is a state the store
  // held on disk: a mirror of the records after each one.
  const mirror = new Map<string, TaskRecord>();
  const states: string[] = [];
  const store: Store = {
    location: inner.location,
    async open() {
      const contents = await inner.open();
      for (const [id, record] of contents.tasks) mirror.set(id, record);
      states.push(canonical(mirror));
      return contents;
    },
    async commit(changes) {
      await inner.commit(changes);
      for (const [id, record] of changes) {
        if (record === null) mirror.delete(id);
        else mirror.set(id, record);
      }
      states.push(canonical(mirror));
    },
    close: () => inner.close(),
  };
  const sup = await createSupervisor({
    store,
    clock,
    compensators: { undo: () => {} },
    schedule: false,
    logger: { warn: () => {} },
    defaults: { leaseMs: 10_000, graceMs: 1_000 },
  });
  try {
    const calls = r.between(3, 14);
    for (let i = 0; i < calls; i++) await randomCall(sup, clock, r, i);
    await clock.settle();
    // Behind the last commit and any compaction it started: the files are at rest.
    await inner.commit(new Map());
    await compactionsSettled(inner);
    const image = dataFiles(folder.dir);
    const acknowledged = states.length;
    // One more commit, not acknowledged: the line a crash could have torn.
    const journalBefore = image.get(JOURNAL);
    await sup.create({ id: 'unacknowledged', spec: { torn: true } });
    await inner.commit(new Map());
    await compactionsSettled(inner);
    const journalAfter = dataFiles(folder.dir).get(JOURNAL);
    const grew = journalBefore && journalAfter && journalAfter.length > journalBefore.length && journalAfter.subarray(0, journalBefore.length).equals(journalBefore);
    return { kind, image, states: states.slice(0, acknowledged), nextLine: grew ? journalAfter.subarray(journalBefore.length) : undefined, at: clock.now() };
  } finally {
    await sup.close();
    folder.remove();
  }
}

/** Records sorted by id, as JSON (as a raw open of the files would return them). */
function canonical(records: Map<string, TaskRecord>): string {
  return JSON.stringify([...records].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** The records a store opened on `file` reads, sorted by id, as JSON. */
async function rawRecords(kind: StoreKind, file: string): Promise<string> {
  const store = kind.make(file);
  const { tasks } = await store.open();
  try {
    return canonical(tasks);
  } finally {
    await store.close();
  }
}

/** One random acknowledged call (or a refused one, which changes nothing); each is captured. */
async function randomCall(sup: Supervisor, clock: TestClock, r: Random, i: number) {
  await clock.advance(r.between(0, 3_000));
  const tasks = sup.list();
  const pick = tasks.length > 0 ? r.pick(tasks) : undefined;
  const lease = pick?.lease && pick.state === 'leased' ? pick.lease : undefined;
  try {
    if (!pick || r.chance(0.25)) {
      await sup.create({ id: `t${i}`, spec: { n: i, text: 'ünïcødé ✓' }, compensations: r.chance(0.5) ? [{ action: 'undo', args: { i } }] : [] });
    } else if (!lease) {
      await sup.claim(pick.id, { owner: `o${r.int(3)}` });
    } else {
      const fenced = { owner: lease.owner, epoch: lease.epoch };
      switch (r.int(6)) {
        case 0:
          await sup.heartbeat(pick.id, { ...fenced, progress: r.int(101), message: `step ${i}` });
          break;
        case 1:
          await sup.addCompensation(pick.id, { ...fenced, action: 'undo', args: { i } });
          break;
        case 2:
          await sup.complete(pick.id, { ...fenced, result: { i } });
          break;
        case 3:
          await sup.fail(pick.id, { ...fenced, error: `failed ${i}`, retryable: r.chance(0.5) });
          break;
        case 4:
          await sup.release(pick.id, { ...fenced, reason: 'back' });
          break;
        default:
          await sup.annotate(pick.id, { [`k${i}`]: i });
      }
    }
  } catch (error) {
    if (!(error instanceof LeaseholdError)) throw error;
  }
}

/** The store's data files (not the lock), as bytes. */
function dataFiles(dir: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  for (const name of readdirSync(dir).sort()) {
    if (name.endsWith('.lock') || name.endsWith('.lock.owner')) continue;
    if (statSync(join(dir, name)).isFile()) files.set(name, readFileSync(join(dir, name)));
  }
  return files;
}

// ---------------------------------------------------------------------------------------
// damage

interface Damage {
  name: string;
  /** Applies the damage to the files in `dir`; false when it does not apply to this image. */
  apply(dir: string, h: History, r: Random): boolean;
  /** What opening may give: exactly the last state, or any acknowledged state. */
  allows: 'last' | 'any';
}

const garbage = (r: Random): Buffer => {
  switch (r.int(5)) {
    case 0:
      return Buffer.from(Array.from({ length: r.between(1, 64) }, () => r.int(256)));
    case 1:
      return Buffer.from('{"seq":'.slice(0, r.between(1, 7)));
    case 2:
      return Buffer.from(`${JSON.stringify({ seq: 999, changes: { x: null } }).slice(0, r.between(1, 20))}`);
    case 3:
      return Buffer.from('}\n');
    default:
      return Buffer.from('\u0000'.repeat(r.between(1, 512)));
  }
};

const DAMAGES: Damage[] = [
  {
    name: 'snapshot truncated',
    allows: 'last',
    apply(dir, _h, r) {
      const path = join(dir, 'store.json');
      truncateSync(path, r.int(statSync(path).size));
      return true;
    },
  },
  {
    name: 'garbage appended to the snapshot',
    allows: 'last',
    apply(dir, _h, r) {
      writeFileSync(join(dir, 'store.json'), garbage(r), { flag: 'a' });
      return true;
    },
  },
  {
    name: 'whitespace appended to the snapshot',
    allows: 'last',
    apply(dir, _h, r) {
      writeFileSync(join(dir, 'store.json'), ' \n\t'.repeat(r.between(1, 3)), { flag: 'a' });
      return true;
    },
  },
  {
    name: 'journal cut at a random offset',
    allows: 'any',
    apply(dir, _h, r) {
      const path = join(dir, JOURNAL);
      if (!existsSync(path) || statSync(path).size === 0) return false;
      truncateSync(path, r.int(statSync(path).size));
      return true;
    },
  },
  {
    name: 'the unacknowledged last journal line torn part-way',
    allows: 'last',
    apply(dir, h, r) {
      if (!h.nextLine || h.nextLine.length < 2) return false;
      writeFileSync(join(dir, JOURNAL), h.nextLine.subarray(0, r.between(1, h.nextLine.length - 1)), { flag: 'a' });
      return true;
    },
  },
  {
    name: 'garbage appended to the journal (no newline)',
    allows: 'last',
    apply(dir, h, r) {
      if (h.kind.name !== 'journal') return false;
      const bytes = garbage(r);
      const tail = bytes.lastIndexOf(0x0a) === bytes.length - 1 ? bytes.subarray(0, -1) : bytes;
      writeFileSync(join(dir, JOURNAL), Buffer.from(tail.toString('latin1').replaceAll('\n', ' '), 'latin1'), { flag: 'a' });
      return true;
    },
  },
  {
    name: 'a whole garbage line appended to the journal',
    allows: 'last',
    apply(dir, h, r) {
      if (h.kind.name !== 'journal') return false;
      writeFileSync(join(dir, JOURNAL), Buffer.concat([garbage(r), Buffer.from('\n')]), { flag: 'a' });
      return true;
    },
  },
  {
    name: 'a half-written temp file beside the store',
    allows: 'last',
    apply(dir, _h, r) {
      const snapshot = readFileSync(join(dir, 'store.json'));
      writeFileSync(join(dir, '.store.json.tmp'), snapshot.subarray(0, r.int(snapshot.length)));
      return true;
    },
  },
];

// ---------------------------------------------------------------------------------------

for (const kind of storeKinds()) {
  describe(`torn writes on the ${kind.name} store`, () => {
    it(`${TRIALS} damaged copies: recovered to an acknowledged state or refused untouched, never silently wrong`, async () => {
      const r = random(SEED ^ (kind.name === 'journal' ? 0x5bd1e995 : 0));
      let h: History | undefined;
      for (let trial = 0; trial < TRIALS; trial++) {
        if (trial % PER_HISTORY === 0) h = await history(kind, r.fork(trial));
        await damaged(h!, r.fork(1_000_000 + trial), `trial ${trial} (seed ${SEED})`);
      }
    }, 120_000);
  });
}

/** Applies a random damage that fits this store's files, then opens the result. */
async function damaged(h: History, r: Random, trial: string) {
  const folder = tempDir('torn');
  try {
    for (const [name, bytes] of h.image) writeFileSync(join(folder.dir, name), bytes);
    let damage: Damage | undefined;
    for (let k = 0; k < 50 && !damage; k++) {
      const candidate = r.pick(DAMAGES);
      if (candidate.apply(folder.dir, h, r)) damage = candidate;
    }
    if (!damage) throw new Error(`${trial}: no damage applies`);
    const where = `${trial}, ${damage.name}`;
    const before = filesOf(folder.dir);
    const file = join(folder.dir, 'store.json');
    // First what the store itself reads (no timers fire, so any acknowledged state compares).
    let records: string;
    try {
      records = await rawRecords(h.kind, file);
    } catch (error) {
      if (!(error instanceof LeaseholdError) || error.code !== 'STORE_CORRUPT') throw new Error(`${where}: opening failed with ${String(error)}`, { cause: error });
      expect(error.message, where).toContain(folder.dir);
      expect(filesOf(folder.dir), `${where}: a refused store was changed`).toEqual(before);
      expect(lockHeld(file), `${where}: a refused store kept its lock`).toBe(false);
      // A supervisor refuses it the same way, and leaves it as it was too.
      const again = await createSupervisor({ store: h.kind.make(file), schedule: false }).then(
        (sup) => sup.close().then(() => undefined),
        (e: unknown) => e,
      );
      expect((again as LeaseholdError | undefined)?.code, `${where}: a supervisor opened a store the store refused`).toBe('STORE_CORRUPT');
      expect(filesOf(folder.dir), `${where}: a refused store was changed`).toEqual(before);
      tally(h.kind, 'refused untouched');
      return;
    }
    let outcome: Outcome;
    if (records === h.states[h.states.length - 1]) outcome = 'recovered exactly';
    else if (damage.allows === 'any' && h.states.includes(records)) outcome = 'recovered to an earlier commit';
    else {
      throw new Error(`${where}: opened to a state that was never acknowledged${damage.allows === 'last' ? ' (only the last one may be)' : ''}`);
    }
    // A supervisor opens it, takes a write, and opens again with it (a torn tail was cut, not buried).
    const clock = createTestClock(h.at);
    const open = () => createSupervisor({ store: h.kind.make(file), clock, compensators: { undo: () => {} }, schedule: false, logger: { warn: () => {} } });
    let sup = await open();
    try {
      await sup.create({ id: 'after-recovery' });
      const after = sup.list();
      await sup.close();
      sup = await open();
      expect(sup.list(), `${where}: the recovered store does not reopen as written`).toEqual(after);
    } finally {
      await sup.close();
    }
    tally(h.kind, outcome);
  } finally {
    folder.remove();
  }
}

function tally(kind: StoreKind, outcome: Outcome) {
  const key = `${kind.name} ${outcome}`;
  outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
}

