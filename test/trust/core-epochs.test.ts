// Epochs never repeat for an id: a task retained (archived and removed) and created again
// continues above every epoch the store ever handed out to a removed task, across restarts
// and compactions, on every store.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createSupervisor, jsonFileStore, memoryStore } from '../../src/index.js';
import { createTestClock } from '../../src/testing.js';
import { harness, rejection, T0, type StoreKind } from '../support.js';

const DAY = 24 * 3_600_000;

describe.each<StoreKind>(['json', 'journal'])('an id created again after retain (%s store)', (kind) => {
  it('never repeats an epoch: a delayed call from the first incarnation is refused, also after a restart', async () => {
    const h = await harness({ schedule: { retentionMs: DAY } }, createTestClock(T0), kind);
    await h.sup.create({ id: 't' });
    const first = await h.sup.claim('t', { owner: 'a' });
    await h.sup.release('t', { owner: 'a', epoch: first.epoch });
    const second = await h.sup.claim('t', { owner: 'a' });
    await h.sup.complete('t', { owner: 'a', epoch: second.epoch });
    await h.clock.advance(DAY + 1);
    expect((await h.sup.runJob('retain')).taskIds).toEqual(['t']);

    await h.sup.create({ id: 't' });
    const again = await h.sup.claim('t', { owner: 'b' });
    expect(again.epoch).toBe(3);
    // The first incarnation's owner finishing late, with an epoch it was really given:
    expect((await rejection(h.sup.complete('t', { owner: 'b', epoch: 2 }))).reason).toBe('stale_epoch');

    // The floor is durable: after a restart (and with the task retained once more) it holds.
    await h.sup.complete('t', { owner: 'b', epoch: again.epoch });
    await h.clock.advance(DAY + 1);
    await h.sup.runJob('retain');
    if (kind === 'journal') await h.sup.runJob('compact');
    await h.restart();
    await h.sup.create({ id: 't' });
    expect((await h.sup.claim('t', { owner: 'c' })).epoch).toBe(4);
    expect(JSON.parse(readFileSync(h.file, 'utf8').split('\n')[0]! + '}}')).toMatchObject(
      kind === 'journal' ? { formatVersion: 2 } : { formatVersion: 1, epochFloor: 3 },
    );
  });
});

describe('the epoch floor on the memory store', () => {
  it('survives close and open like the tasks do', async () => {
    const store = memoryStore();
    const clock = createTestClock(T0);
    const dir = mkdtempSync(join(tmpdir(), 'leasehold-epochs-'));
    const options = { store, clock, schedule: { retentionMs: DAY, archivePath: join(dir, 'archive.json') } };
    let sup = await createSupervisor(options);
    await sup.create({ id: 't' });
    const lease = await sup.claim('t', { owner: 'a' });
    await sup.complete('t', { owner: 'a', epoch: lease.epoch });
    await clock.advance(DAY + 1);
    await sup.runJob('retain');
    await sup.close();
    sup = await createSupervisor(options);
    await sup.create({ id: 't' });
    expect((await sup.claim('t', { owner: 'b' })).epoch).toBe(2);
    await sup.close();
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('a store file with an epoch floor', () => {
  it('refuses a floor that is not a non-negative integer, file untouched', async () => {
    const h = await harness();
    await h.sup.close();
    const text = readFileSync(h.file, 'utf8').replace('"tasks":{', '"epochFloor":-1,"tasks":{');
    writeFileSync(h.file, text);
    const opened = await rejection(createSupervisor({ store: jsonFileStore(h.file), clock: h.clock }));
    expect(opened.code).toBe('STORE_CORRUPT');
    expect(readFileSync(h.file, 'utf8')).toBe(text);
    // The harness closes its (already closed) supervisor at the end; nothing else is open.
  });
});
