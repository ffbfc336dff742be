// Issue #11, item 12: names are kept exactly as the caller gave them. An id, an owner, an
// operator (`by`), a compensation action and a label are never trimmed; an empty or
// whitespace-only name, or one with a control character, is refused with INVALID_INPUT and
// nothing is written.
import { describe, expect, it } from 'vitest';
import { harness, rejection } from '../support.js';

describe('names are kept as given', () => {
  it("an id ' padded ' round-trips exactly, across a restart; 'padded' is another task", async () => {
    const h = await harness();
    const view = await h.sup.create({ id: ' padded ', labels: [' x '], compensations: [{ action: ' undo ' }] });
    expect(view.id).toBe(' padded ');
    expect(view.labels).toEqual([' x ']);
    expect(view.compensations[0]!.action).toBe(' undo ');
    expect(h.sup.get(' padded ')?.id).toBe(' padded ');
    expect(h.sup.get('padded')).toBeUndefined();
    expect((await rejection(h.sup.claim('padded', { owner: 'w' }))).code).toBe('TASK_NOT_FOUND');
    await h.restart();
    expect(h.sup.get(' padded ')?.id).toBe(' padded ');
    expect(h.sup.get('padded')).toBeUndefined();
    expect(Object.keys(h.durable().tasks)).toEqual([' padded ']);
  });

  it("an owner ' w ' is that owner: 'w' is another one", async () => {
    const h = await harness();
    await h.sup.create({ id: 't' });
    const lease = await h.sup.claim('t', { owner: ' w ' });
    expect(lease.owner).toBe(' w ');
    const error = await rejection(h.sup.heartbeat('t', { owner: 'w', epoch: lease.epoch }));
    expect(error.reason).toBe('not_owner');
    await h.clock.advance(1_000);
    await h.sup.heartbeat('t', { owner: ' w ', epoch: lease.epoch });
    const quarantined = await h.sup.quarantine('t', { by: ' ops ', reason: 'r' });
    expect(quarantined.terminal!.by).toBe(' ops ');
  });

  const bad: [string, string][] = [
    ['empty', ''],
    ['whitespace only', ' \t '],
    ['a newline', 'a\nb'],
    ['a NUL', 'a\u0000b'],
    ['DEL', 'a\u007fb'],
    ['a C1 control', 'a\u0085b'],
  ];
  for (const [what, name] of bad) {
    it(`refuses a name that is ${what} in every name-like field, writing nothing`, async () => {
      const h = await harness();
      await h.sup.create({ id: 't' });
      const lease = await h.sup.claim('t', { owner: 'w' });
      const before = h.bytes();
      const calls: [string, Promise<unknown>][] = [
        ['id', h.sup.create({ id: name })],
        ['label', h.sup.create({ id: 'u', labels: [name] })],
        ['compensation action', h.sup.create({ id: 'u', compensations: [{ action: name }] })],
        ['claim owner', h.sup.claim('t', { owner: name })],
        ['claimNext owner', h.sup.claimNext({ owner: name })],
        ['claimNext label', h.sup.claimNext({ owner: 'v', labels: [name] })],
        ['heartbeat owner', h.sup.heartbeat('t', { owner: name, epoch: lease.epoch })],
        ['addCompensation action', h.sup.addCompensation('t', { owner: 'w', epoch: lease.epoch, action: name })],
        ['quarantine by', h.sup.quarantine('t', { by: name, reason: 'r' })],
        ['claim id', h.sup.claim(name, { owner: 'w' })],
      ];
      for (const [field, call] of calls) {
        const error = await rejection(call);
        expect(error.code, field).toBe('INVALID_INPUT');
      }
      expect(() => h.sup.get(name)).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }));
      expect(h.bytes()).toBe(before);
    });
  }
});
