// Issue #11, item 10: a stored record is checked against its state's rules when a store is
// opened, not only against its shape. Each row breaks one rule in an otherwise good record; the
// store (plain JSON file and journal) is refused with STORE_CORRUPT naming the file, the task
// and the rule, and every file is left byte-for-byte as it was.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createSupervisor } from '../../src/index.js';
import { harness, rejection, storeOf, type Harness } from '../support.js';

type Context = { [key: string]: unknown } & {
  lease: { [key: string]: unknown } | null;
  compensations: { [key: string]: unknown }[];
  terminal: { [key: string]: unknown } | null;
};
interface Row {
  /** The rule, as the error names it (a fragment of the message). */
  rule: string;
  /** Which prepared task to break. */
  task: 'leased' | 'stale' | 'planned' | 'backoff' | 'failed' | 'completed' | 'compensated' | 'retrying';
  breakIt: (context: Context, record: { state: unknown; context: Context }) => void;
}

const rows: Row[] = [
  { rule: 'has a lease', task: 'leased', breakIt: (c) => (c.lease = null) },
  { rule: 'has a lease', task: 'stale', breakIt: (c) => (c.lease = null) },
  { rule: 'has no lease', task: 'backoff', breakIt: (c, r) => (c.lease = { ...(leaseOf(r) ?? {}) }) },
  { rule: 'has no lease', task: 'completed', breakIt: (c, r) => (c.lease = { ...(leaseOf(r) ?? {}) }) },
  { rule: "lease.epoch is the task's epoch", task: 'leased', breakIt: (c) => (c.lease!.epoch = 7) },
  { rule: 'graceEndsAt', task: 'stale', breakIt: (c) => (c.graceEndsAt = null) },
  { rule: 'notBefore', task: 'backoff', breakIt: (c) => (c.notBefore = null) },
  { rule: 'compensationRetryAt', task: 'retrying', breakIt: (c) => (c.compensationRetryAt = null) },
  { rule: 'lease.expiresAt', task: 'leased', breakIt: (c) => (c.lease!.expiresAt = null) },
  { rule: 'epoch', task: 'planned', breakIt: (c) => (c.epoch = -1) },
  { rule: 'attempts', task: 'planned', breakIt: (c) => (c.attempts = 1.5) },
  { rule: 'staleCount', task: 'stale', breakIt: (c) => (c.staleCount = -2) },
  { rule: 'renewals', task: 'leased', breakIt: (c) => (c.lease!.renewals = -1) },
  { rule: 'progress', task: 'leased', breakIt: (c) => (c.progress = 101) },
  { rule: 'numbered 1 to', task: 'failed', breakIt: (c) => (c.compensations[0]!.seq = 5) },
  { rule: 'status', task: 'failed', breakIt: (c) => (c.compensations[0]!.status = 'maybe') },
  { rule: 'at most one compensation is running', task: 'failed', breakIt: (c) => c.compensations.forEach((e) => (e.status = 'running')) },
  { rule: 'running only in failed.running', task: 'leased', breakIt: (c) => (c.compensations[0]!.status = 'running') },
  { rule: 'done compensations have doneAt', task: 'compensated', breakIt: (c) => (c.compensations[0]!.doneAt = null) },
  { rule: 'attempts', task: 'failed', breakIt: (c) => (c.compensations[0]!.attempts = -1) },
  { rule: 'every compensation is done in compensated', task: 'compensated', breakIt: (c) => (c.compensations[0]!.status = 'pending', c.compensations[0]!.doneAt = null) },
  { rule: 'a compensation left to run', task: 'retrying', breakIt: (c) => c.compensations.forEach((e) => ((e.status = 'done'), (e.doneAt = 1))) },
  { rule: 'terminal is set only in', task: 'leased', breakIt: (c) => (c.terminal = { state: 'completed', at: 1, by: null, reason: null, result: null, failure: null }) },
  { rule: 'terminal is set only in', task: 'completed', breakIt: (c) => (c.terminal = null) },
  { rule: 'terminal.state', task: 'completed', breakIt: (c) => (c.terminal!.state = 'quarantined') },
];

function leaseOf(record: { context: Context }) {
  return record.context.lease ?? { owner: 'w', epoch: record.context.epoch, acquiredAt: 1, expiresAt: 2, heartbeatAt: 1, leaseMs: 1, graceMs: 0, graceExtensions: {}, renewals: 0, lateHeartbeats: 0, heartbeats: [] };
}

/** One task in each state the rows break, then closed: the store on disk is good. */
async function prepared(kind: 'json' | 'journal'): Promise<Harness> {
  const h = await harness(
    {
      compensators: {
        ok: async () => {},
        flaky: async () => {
          throw new Error('not yet');
        },
      },
    },
    undefined,
    kind,
  );
  const { sup, clock } = h;
  await sup.create({ id: 'planned' });
  await sup.create({ id: 'leased', compensations: [{ action: 'ok' }] });
  await sup.claim('leased', { owner: 'w', leaseMs: 1_000_000 });
  await sup.create({ id: 'stale', graceMs: 1_000_000 });
  await sup.claim('stale', { owner: 'w', leaseMs: 10 });
  await sup.create({ id: 'backoff', maxAttempts: 3, retryBackoffMs: 1_000_000 });
  const b = await sup.claim('backoff', { owner: 'w' });
  await sup.fail('backoff', { ...b, error: 'again', retryable: true });
  await sup.create({ id: 'completed' });
  await sup.complete('completed', await sup.claim('completed', { owner: 'w' }));
  await sup.create({ id: 'compensated', compensations: [{ action: 'ok' }] });
  await sup.fail('compensated', { ...(await sup.claim('compensated', { owner: 'w' })), error: 'x' });
  await sup.create({ id: 'retrying', compensations: [{ action: 'ok' }, { action: 'flaky' }], compensationBackoffMs: 1_000_000 });
  await sup.fail('retrying', { ...(await sup.claim('retrying', { owner: 'w' })), error: 'x' });
  await sup.create({ id: 'failed', compensations: [{ action: 'ok' }, { action: 'flaky' }], compensationBackoffMs: 1_000_000 });
  await sup.fail('failed', { ...(await sup.claim('failed', { owner: 'w' })), error: 'x' });
  await clock.advance(100);
  const states = Object.fromEntries(sup.list().map((t) => [t.id, t.substate]));
  expect(states).toEqual({
    planned: 'planned.ready',
    leased: 'leased',
    stale: 'stale.grace',
    backoff: 'planned.backoff',
    completed: 'completed',
    compensated: 'compensated',
    retrying: 'failed.retrying',
    failed: 'failed.retrying',
  });
  await sup.close();
  return h;
}

const checksum = (h: Harness) => createHash('sha256').update(h.bytes()).digest('hex');

for (const kind of ['json', 'journal'] as const) {
  describe(`a ${kind} store holding a record that breaks its state's rules`, () => {
    it('opens when nothing is broken', async () => {
      const h = await prepared(kind);
      await h.restart();
      expect(h.sup.list()).toHaveLength(8);
    });

    for (const row of rows) {
      it(`is refused (${row.task}: ${row.rule}), file untouched`, async () => {
        const h = await prepared(kind);
        const document = h.durable<{ state: unknown; context: Context }>();
        const record = document.tasks[row.task]!;
        row.breakIt(record.context, record);
        if (kind === 'json') {
          const { writeFileSync } = await import('node:fs');
          writeFileSync(h.file, JSON.stringify({ formatVersion: 1, tasks: document.tasks }));
        } else {
          // The broken record as the journal's next line.
          const { readFileSync, writeFileSync } = await import('node:fs');
          const seq = (JSON.parse(readFileSync(h.file, 'utf8')) as { journalSeq: number }).journalSeq + 1;
          writeFileSync(`${h.file}.journal`, `${JSON.stringify({ seq, changes: { [row.task]: record } })}\n`);
        }
        const before = checksum(h);
        const error = await rejection(createSupervisor({ store: storeOf(h.file, kind), clock: h.clock }));
        expect(error.code, error.message).toBe('STORE_CORRUPT');
        expect(error.message).toContain(h.file);
        expect(error.message).toContain(`task "${row.task}"`);
        expect(error.message).toContain(row.rule);
        expect(checksum(h)).toBe(before);
        expect(h.clock.pendingTimers).toBe(0);
      });
    }
  });
}
