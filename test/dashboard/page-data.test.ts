// The dashboard's pure parts, without a browser: the chart's buckets from stats samples, the
// task timeline (audit merged with the server's recent events, each step once), the hash
// routes, and the countdown text.
import { describe, expect, it } from 'vitest';
import type { AuditEntry, LifecycleEvent } from '../../src/index.js';
import { buckets, type Sample } from '../../src/dashboard/chart-data.js';
import { clock } from '../../src/dashboard/format.js';
import { parseRoute, taskHash, tasksHash } from '../../src/dashboard/router.js';
import { mergeTimeline } from '../../src/dashboard/timeline.js';

const T = Date.UTC(2026, 0, 1, 12, 0, 0);
const sample = (at: number, calls: number, expiries = 0, reclaims = 0): Sample => ({ at, calls, expiries, reclaims });

describe('dashboard chart data', () => {
  it('has 60 five-second buckets ending at now, gaps before the first sample, and rates from the first sample on', () => {
    const [xs, calls, expiries, reclaims] = buckets([sample(T - 12_000, 100, 1), sample(T - 7_000, 150, 2, 1), sample(T - 1_000, 160, 2, 1)], T);
    expect(xs).toHaveLength(60);
    expect(xs.at(-1)).toBe(T / 1000);
    expect(xs[1]! - xs[0]!).toBe(5);
    // Buckets ending T-15 s and before: no sample yet.
    expect(calls.slice(0, 57).every((value) => value === null)).toBe(true);
    // (T-15, T-10]: the first sample is its own baseline; (T-10, T-5]: +50 calls in the 5 s
    // between samples; (T-5, T]: +10 in 6 s.
    expect(calls.slice(57)).toEqual([0, 10, 10 / 6]);
    expect(expiries.slice(57)).toEqual([0, 1, 0]);
    expect(reclaims.slice(57)).toEqual([0, 1, 0]);
  });

  it('measures from the last sample before the window when there is one, and reads 0 for a bucket with no new sample', () => {
    const [, calls, expiries] = buckets([sample(T - 400_000, 0, 3), sample(T - 2_000, 796, 5)], T);
    expect(calls.every((value) => value !== null)).toBe(true);
    expect(calls.at(-1)).toBe(2); // 796 calls over the 398 s between the samples
    expect(expiries.at(-1)).toBe(2);
    expect(calls.slice(0, -1).every((value) => value === 0)).toBe(true);
  });

  it('ends with the bucket in progress, so the current seconds show', () => {
    const [xs, calls] = buckets([sample(T + 1_000, 10), sample(T + 3_000, 30)], T + 3_500);
    expect(xs).toHaveLength(61);
    expect(xs.slice(-2)).toEqual([T / 1000, (T + 3_500) / 1000]);
    expect(calls.slice(-2)).toEqual([null, 10]);
  });
});

describe('dashboard timeline', () => {
  const audit: AuditEntry[] = [
    { at: T, event: 'created' },
    { at: T + 10, event: 'claimed', owner: 'a', epoch: 1 },
    { at: T + 20, event: 'heartbeat', owner: 'a', epoch: 1, detail: 'progress 40' },
    { at: T + 60_010, event: 'expired', owner: 'a', epoch: 1 },
  ];
  const fenced = { taskId: 't', owner: 'a', epoch: 1 };
  const events: LifecycleEvent[] = [
    { type: 'claimed', ...fenced, at: T + 10, expiresAt: T + 60_010 },
    { type: 'heartbeat', ...fenced, at: T + 20, expiresAt: T + 60_020, progress: 40, late: false },
    { type: 'stuck', ...fenced, at: T + 30, renewals: 10 },
    // The expiry is audited at the lease's end; the event may come a little later.
    { type: 'expired', ...fenced, at: T + 60_015, staleCount: 1, graceEndsAt: T + 120_000 },
    { type: 'reclaimed', taskId: 't', owner: 'b', epoch: 2, at: T + 130_000, previousOwner: 'a', previousEpoch: 1 },
  ];

  it('keeps every audit entry, adds only the events the audit does not record, oldest first', () => {
    const merged = mergeTimeline(audit, events);
    expect(merged.map((entry) => [entry.event, entry.source])).toEqual([
      ['created', 'audit'],
      ['claimed', 'audit'],
      ['heartbeat', 'audit'],
      ['stuck', 'events'],
      ['expired', 'audit'],
      ['reclaimed', 'events'],
    ]);
    expect(merged.at(-1)).toMatchObject({ owner: 'b', epoch: 2, detail: 'from a (epoch 1)' });
  });

  it('with no recent events is the audit as it is', () => {
    expect(mergeTimeline(audit, []).map((entry) => entry.event)).toEqual(audit.map((entry) => entry.event));
  });
});

describe('dashboard routes', () => {
  it('reads the views and the filters from the hash, and writes shareable ones', () => {
    expect(parseRoute('')).toEqual({ view: 'lifecycle' });
    expect(parseRoute('#/')).toEqual({ view: 'lifecycle' });
    expect(parseRoute('#/agents')).toEqual({ view: 'agents' });
    const tasks = parseRoute('#/tasks?state=leased&owner=a%20b');
    expect(tasks.view === 'tasks' && Object.fromEntries(tasks.query)).toEqual({ state: 'leased', owner: 'a b' });
    expect(parseRoute(taskHash('ingest/job 1?x'))).toEqual({ view: 'task', id: 'ingest/job 1?x' });
    expect(parseRoute('#/tasks/%E0%A4%A')).toEqual({ view: 'unknown', hash: '#/tasks/%E0%A4%A' });
    expect(tasksHash({ state: 'leased', owner: '', search: 'x&y', offset: 0 })).toBe('#/tasks?state=leased&search=x%26y');
    expect(tasksHash({ offset: 50 })).toBe('#/tasks?offset=50');
    expect(tasksHash({})).toBe('#/tasks');
  });

  it('writes countdowns as m:ss or h:mm:ss, never negative', () => {
    expect([clock(0), clock(999), clock(65_000), clock(3_723_000), clock(-5_000)]).toEqual(['0:00', '0:01', '1:05', '1:02:03', '0:00']);
  });
});
