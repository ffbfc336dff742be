// A task's trace drawn from what the store recorded: owners and the supervisor as
// participants, every ownership change with its epoch, in order.
import { expect, test } from 'vitest';
import { elapsed, toTrace } from '../../src/visualize/trace.js';
import { harness } from '../support.js';

test('a reclaimed task shows who held it, when it expired and who took over, with epochs', async () => {
  const h = await harness({ defaults: { leaseMs: 1000, graceMs: 500 } });
  await h.sup.create({ id: 'fix-login' });
  const first = await h.sup.claim('fix-login', { owner: 'agent-1' });
  await h.clock.advance(400);
  await h.sup.heartbeat('fix-login', { owner: 'agent-1', epoch: first.epoch, progress: 30, message: 'tests written' });
  await h.clock.advance(2000); // expired, grace over: claimable
  await h.sup.heartbeat('fix-login', { owner: 'agent-1', epoch: first.epoch, progress: 60 }).catch(() => {});
  const second = await h.sup.claim('fix-login', { owner: 'agent-2' });
  await h.sup.addCompensation('fix-login', { owner: 'agent-2', epoch: second.epoch, action: 'delete-branch' });
  await h.sup.complete('fix-login', { owner: 'agent-2', epoch: second.epoch });
  await h.sup.annotate('fix-login', { reviewed: true });

  const trace = toTrace(h.sup.get('fix-login')!);
  expect(trace.split('\n').slice(0, 4)).toEqual([
    'sequenceDiagram',
    '  participant S as supervisor',
    '  participant P1 as agent-1',
    '  participant P2 as agent-2',
  ]);
  const steps = trace.split('\n').slice(4, -1);
  expect(steps).toEqual([
    '  Note over S: +0s task fix-login created (2026-01-01T00:00:00.000Z)',
    '  P1->>S: +0s claim',
    '  S-->>P1: lease granted, epoch 1',
    '  P1->>S: +400ms heartbeat, epoch 1 (progress 30)',
    '  S--xP1: +1s lease expired, epoch 1: grace period starts',
    '  S--xP1: +1s grace ended, epoch 1: claimable by anyone',
    '  P1-xS: +2s heartbeat refused (expired), epoch 1: progress 60 kept for the hand-off',
    '  P2->>S: +2s claim',
    '  S-->>P2: lease granted, epoch 2, taken over from agent-1 (epoch 1)',
    '  Note over S,P2: recovery hand-off: previous owner, progress and last message',
    '  P2->>S: +2s add compensation delete-branch, epoch 2',
    '  P2->>S: +2s complete, epoch 2',
    '  Note over S: completed (terminal)',
    '  Note over S: +2s annotated (reviewed: true)',
  ]);
});

test('compensations and quarantine appear with the supervisor and the compensators', () => {
  const at = Date.UTC(2026, 0, 1);
  const trace = toTrace({
    id: 'deploy',
    audit: [
      { at, event: 'created' },
      { at: at + 10, event: 'claimed', owner: 'ci#7; west', epoch: 1 },
      { at: at + 15, event: 'grace-extended', owner: 'ci#7; west', epoch: 1, detail: 'merge-conflict: +60000 ms' },
      { at: at + 16, event: 'something-new', owner: 'ci#7; west', epoch: 1, detail: 'x' },
      { at: at + 20, event: 'failed', owner: 'ci#7; west', epoch: 1, detail: 'tests red' },
      { at: at + 1500, event: 'compensation-failed', detail: 'rollback: timeout' },
      { at: at + 3000, event: 'compensation-done', detail: 'rollback' },
      { at: at + 3000, event: 'compensated' },
    ],
  });
  expect(trace).toContain('participant P1 as ci#35;7#59; west');
  expect(trace).toContain('participant C as compensators');
  expect(trace).toContain('S-->>P1: +15ms grace extended, epoch 1: merge-conflict: +60000 ms');
  expect(trace).toContain('Note over P1: +16ms something-new, epoch 1: x');
  expect(trace).toContain('P1->>S: +20ms fail, epoch 1: tests red');
  expect(trace).toContain('S->>C: +1s run rollback');
  expect(trace).toContain('C--xS: failed: timeout');
  expect(trace).toContain('C-->>S: done');
  expect(trace).toContain('Note over S: +3s compensated (terminal): every compensation ran');

  const poison = toTrace({ id: 'p', audit: [{ at, event: 'quarantined', detail: 'lease expired 3 times' }] });
  expect(poison).toContain('Note over S: older history rolled off the audit');
  expect(poison).toContain('Note over S: +0s quarantined (terminal): lease expired 3 times');
});

test('elapsed times read naturally', () => {
  expect([0, 850, 42_000, 307_000, 7_380_000, 273_600_000].map(elapsed)).toEqual(['+0s', '+850ms', '+42s', '+5m07s', '+2h03m', '+3d04h']);
});
