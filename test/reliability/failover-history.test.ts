// The failover trials' history checks (failover-history.ts) on histories written by hand: a
// clean one passes, and each planted fault — an acknowledged create or complete missing from
// the store, an epoch granted to two owners, a lease granted while an earlier one was held or
// not yet expired, an epoch going backwards after a takeover — is reported.
import { describe, expect, it } from 'vitest';
import type { Lease, TaskView } from '../../src/index.js';
import { doubleOwners, lostAcknowledgements, tally, type CallRecord } from './failover-history.js';

const lease = (taskId: string, owner: string, epoch: number, acquiredAt: number, expiresAt: number, heartbeatAt = acquiredAt): Lease =>
  ({ taskId, owner, epoch, acquiredAt, expiresAt, heartbeatAt, leaseMs: expiresAt - heartbeatAt }) as Lease;

const ack = (by: string, op: CallRecord['op'], task: string, sentAt: number, value: unknown, input: CallRecord['input'] = {}): CallRecord => ({
  by,
  op,
  task,
  input,
  sentAt,
  answeredAt: sentAt + 5,
  outcome: { kind: 'ack', value },
});

const view = (id: string, patch: Partial<TaskView>): TaskView =>
  ({ id, state: 'planned', substate: 'planned', epoch: 0, progress: 0, spec: null, lease: null, terminal: null, ...patch }) as TaskView;

/**
 * A clean history: t1 created, claimed by a (epoch 1), heartbeated, completed; t2 claimed by
 * b (epoch 1, 1 s lease) and abandoned, then, after it expired, claimed by c (epoch 2) through
 * the new leader after a takeover, with a lost heartbeat in between.
 */
function cleanHistory(): { calls: CallRecord[]; final: TaskView[] } {
  const calls: CallRecord[] = [
    ack('admin', 'create', 't1', 1000, null, { spec: { n: 1 } }),
    ack('admin', 'create', 't2', 1001, null, { spec: { n: 2 } }),
    ack('a', 'claimNext', '', 1010, lease('t1', 'a', 1, 1012, 61_012)),
    ack('b', 'claimNext', '', 1020, lease('t2', 'b', 1, 1022, 2022)),
    ack('a', 'heartbeat', 't1', 1100, lease('t1', 'a', 1, 1012, 61_102, 1102), { epoch: 1, progress: 40 }),
    { by: 'a', op: 'heartbeat', task: 't1', input: { epoch: 1, progress: 50 }, sentAt: 1200, answeredAt: 3000, outcome: { kind: 'lost' } },
    ack('a', 'complete', 't1', 3100, null, { epoch: 1, result: { ok: 1 } }),
    ack('c', 'claimNext', '', 3200, lease('t2', 'c', 2, 3202, 63_202)),
    { by: 'b', op: 'complete', task: 't2', input: { epoch: 1, result: 'late' }, sentAt: 3300, answeredAt: 3305, outcome: { kind: 'refused', code: 'LEASE_CONFLICT', reason: 'stale_epoch' } },
  ];
  const final = [
    view('t1', { state: 'completed', substate: 'completed', epoch: 1, progress: 50, spec: { n: 1 }, terminal: { result: { ok: 1 } } as unknown as TaskView['terminal'] }),
    view('t2', { state: 'leased', substate: 'leased', epoch: 2, spec: { n: 2 }, lease: lease('t2', 'c', 2, 3202, 63_202) }),
  ];
  return { calls, final };
}

describe('failover history checks', () => {
  it('pass a clean history, across a takeover and a lost answer', () => {
    const { calls, final } = cleanHistory();
    expect(lostAcknowledgements(calls, final)).toEqual([]);
    expect(doubleOwners(calls)).toEqual([]);
    expect(tally(calls)).toEqual({ acked: 7, refused: 1, unsent: 0, lost: 1, leases: 3, reclaimed: 1 });
  });

  it('report an acknowledged create or complete missing from the store', () => {
    const { calls, final } = cleanHistory();
    const withoutT1 = final.filter((t) => t.id !== 't1');
    expect(lostAcknowledgements(calls, withoutT1).join('\n')).toMatch(/acknowledged create of t1 .*not in the store/);
    const notCompleted = [view('t1', { state: 'leased', substate: 'leased', epoch: 1, progress: 50, spec: { n: 1 } }), final[1]!];
    expect(lostAcknowledgements(calls, notCompleted).join('\n')).toMatch(/acknowledged complete of t1 .*leased/);
    const epochBack = [final[0]!, { ...final[1]!, epoch: 1 }];
    expect(lostAcknowledgements(calls, epochBack).join('\n')).toMatch(/claimNext of t2 .*epoch 1, below the acknowledged 2/);
  });

  it('count a lost end call as a possible end, an unsent one as none', () => {
    const { calls } = cleanHistory();
    // b's lease (epoch 1, never ended, expiring at 2022) and c's claim at 1500.
    const early = calls.map((c) => (c.by === 'c' ? ack('c', 'claimNext', '', 1498, lease('t2', 'c', 2, 1500, 61_500)) : c));
    const end = (kind: 'lost' | 'unsent'): CallRecord => ({ by: 'b', op: 'release', task: 't2', input: { epoch: 1 }, sentAt: 1400, answeredAt: 1450, outcome: { kind } });
    expect(doubleOwners([...early, end('lost')])).toEqual([]);
    expect(doubleOwners([...early, end('unsent')]).join('\n')).toMatch(/task t2 had two owners/);
  });

  it('report an epoch acknowledged to two owners', () => {
    const { calls } = cleanHistory();
    calls.push(ack('d', 'claimNext', '', 3210, lease('t2', 'd', 2, 3212, 63_212)));
    expect(doubleOwners(calls).join('\n')).toMatch(/task t2: epoch 2 acknowledged to c .* and to d/);
  });

  it('report a lease granted while the earlier one was still held or not yet expired', () => {
    const { calls } = cleanHistory();
    // t1's epoch 2 granted by a deposed leader at 2000: a was heartbeating until 1102 and completed at 3100.
    const held = [...calls, ack('e', 'claimNext', '', 1998, lease('t1', 'e', 2, 2000, 62_000))];
    expect(doubleOwners(held).join('\n')).toMatch(/task t1 had two owners: epoch 2 \(e\) granted at 2000, while epoch 1 was still held at 3100 \(a\)/);
    // t2's epoch 2 granted at 1500, before b's never-ended lease expired at 2022.
    const early = calls.map((c) => (c.by === 'c' ? ack('c', 'claimNext', '', 1498, lease('t2', 'c', 2, 1500, 61_500)) : c));
    expect(doubleOwners(early).join('\n')).toMatch(/task t2 had two owners: epoch 2 \(c\) granted at 1500, before epoch 1 \(never ended\) expired at 2022 \(b\)/);
  });

  it('report an epoch that did not grow across a takeover', () => {
    const { calls } = cleanHistory();
    // The new leader hands t2 out again at epoch 1 (it lost the old leader's acknowledged claim).
    const replaced = calls.map((c) => (c.by === 'c' ? ack('c', 'claimNext', '', 3200, lease('t2', 'c', 0, 3202, 63_202)) : c));
    expect(doubleOwners(replaced).join('\n')).toMatch(/task t2: epoch 0 \(c\) was claimed after epoch 1 \(b\) was acknowledged, yet is not larger/);
  });

  it('report a heartbeat acknowledging a lease no claim granted', () => {
    const { calls } = cleanHistory();
    calls.push(ack('z', 'heartbeat', 't2', 3400, lease('t2', 'z', 7, 3390, 63_400), { epoch: 7, progress: 1 }));
    expect(doubleOwners(calls).join('\n')).toMatch(/heartbeat acknowledged epoch 7, which no acknowledged claim granted/);
  });
});
