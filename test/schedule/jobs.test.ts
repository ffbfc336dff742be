// The sweeps as node-cron jobs: which are scheduled by default, invalid cron expressions
// refused before the store is touched, the report line, runs through the cron task itself
// (node-cron's execute(), no waiting for the wall clock), and close() leaving no job behind.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getTasks, type ScheduledTask } from 'node-cron';
import { afterEach, describe, expect, it } from 'vitest';
import { createSupervisor, jsonFileStore, memoryStore, type Logger } from '../../src/index.js';
import { createTestClock } from '../../src/testing.js';
import { durableDocument, harness, rejection, T0 } from '../support.js';

/** The node-cron tasks this store's supervisor scheduled, by sweep. */
const cronTasks = (location: string) =>
  Object.fromEntries(
    [...getTasks().values()]
      .filter((task) => task.name?.startsWith('leasehold:') && task.name.endsWith(`:${location}`))
      .map((task) => [task.name!.split(':')[1]!, task]),
  ) as Record<string, ScheduledTask>;

function recordingLogger() {
  const info: string[] = [];
  const warn: string[] = [];
  const logger: Logger = { info: (message) => void info.push(message), warn: (message) => void warn.push(message) };
  return { logger, info, warn };
}

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
function tempFile() {
  const dir = mkdtempSync(join(tmpdir(), 'leasehold-jobs-'));
  dirs.push(dir);
  return join(dir, 'store.json');
}

describe('scheduling', () => {
  it('runs reconcile every minute by default, retain and report only when asked, and close() removes them', async () => {
    const h = await harness();
    const scheduled = cronTasks(h.file);
    expect(Object.keys(scheduled)).toEqual(['reconcile']);
    expect(scheduled.reconcile!.getPattern()).toBe('* * * * *');
    expect(scheduled.reconcile!.getStatus()).toBe('idle');
    await h.sup.close();
    expect(cronTasks(h.file)).toEqual({});
    expect(scheduled.reconcile!.getStatus()).toBe('destroyed');
  });

  it('schedules each configured sweep with its expression, and `false` turns them off', async () => {
    const h = await harness({ schedule: { reconcile: '*/5 * * * *', retain: '0 3 * * *', report: '@hourly' } });
    const scheduled = cronTasks(h.file);
    expect(Object.fromEntries(Object.entries(scheduled).map(([job, task]) => [job, task.getPattern()]))).toEqual({
      reconcile: '*/5 * * * *',
      retain: '0 3 * * *',
      report: '@hourly',
    });
    await h.restart({ schedule: false });
    expect(cronTasks(h.file)).toEqual({});
    await h.restart({ schedule: { reconcile: false, report: '0 * * * *' } });
    expect(Object.keys(cronTasks(h.file))).toEqual(['report']);
    await h.sup.close();
    expect(cronTasks(h.file)).toEqual({});
  });

  it('a cron run goes through the supervisor like runJob', async () => {
    const { logger, info } = recordingLogger();
    const h = await harness({ logger, schedule: { report: '0 0 1 1 *' } });
    await h.sup.create({ id: 't' });
    // node-cron's own trigger, as the schedule would fire it.
    await cronTasks(h.file).report!.execute();
    expect(info).toEqual([expect.stringMatching(/^leasehold: 1 task \(planned 1\)/)]);
    expect(h.sup.stats().sweeps.report.runs).toBe(1);
  });
});

describe('invalid schedules', () => {
  it('an invalid cron expression is INVALID_INPUT before the store is opened', async () => {
    const file = tempFile();
    for (const schedule of [
      { reconcile: 'every minute' },
      { retain: '61 * * * *' },
      { report: '* * *' },
      { report: '' },
      { reconcile: true },
      { retentionMs: -1 },
      { often: '* * * * *' },
    ]) {
      const error = await rejection(createSupervisor({ store: jsonFileStore(file), schedule: schedule as never }));
      expect(error.code, JSON.stringify(schedule)).toBe('INVALID_INPUT');
      // Never opened: no file, no lock.
      expect(existsSync(file)).toBe(false);
      expect(existsSync(`${file}.lock`)).toBe(false);
    }
    const error = await rejection(createSupervisor({ store: jsonFileStore(file), schedule: { reconcile: 'every minute' } }));
    expect(error.message).toContain('reconcile');
    expect(error.message).toContain('every minute');
  });

  it('leaves an existing store byte-for-byte as it was, and unlocked', async () => {
    const h = await harness();
    await h.sup.create({ id: 't' });
    await h.sup.close();
    const before = h.bytes();
    const error = await rejection(createSupervisor({ store: jsonFileStore(h.file), schedule: { retain: 'nope' } }));
    expect(error.code).toBe('INVALID_INPUT');
    expect(h.bytes()).toBe(before);
    expect(existsSync(`${h.file}.lock`)).toBe(false);
    expect(cronTasks(h.file)).toEqual({});
  });
});

describe('report', () => {
  it('logs the stats line through the logger', async () => {
    const { logger, info, warn } = recordingLogger();
    const h = await harness({ logger, defaults: { leaseMs: 60_000 } });
    await h.sup.create({ id: 'a' });
    await h.sup.create({ id: 'b' });
    await h.sup.claim('b', { owner: 'w' });
    const result = await h.sup.runJob('report');
    expect(result).toEqual({ job: 'report', at: h.clock.now(), count: 0, line: info[0] });
    expect(info).toHaveLength(1);
    expect(info[0]).toBe(
      'leasehold: 2 tasks (planned 1, leased 1); 1 expiring within 5 min; 0 stuck; avg renewals 0.0; 0 late heartbeats; ' +
        '0 grace extensions; 0 reclaims (0 spurious); 0 recoveries; reconciled 0; archived 0',
    );
    expect(warn).toEqual([]);
  });
});

describe('runJob and close', () => {
  it('refuses unknown jobs, and every job once closed', async () => {
    const sup = await createSupervisor({ store: memoryStore(), clock: createTestClock(T0) });
    expect((await rejection(sup.runJob('vacuum' as never))).code).toBe('INVALID_INPUT');
    await sup.close();
    expect((await rejection(sup.runJob('reconcile'))).code).toBe('SUPERVISOR_CLOSED');
  });

  it('close() waits for a sweep already running', async () => {
    const { logger, info } = recordingLogger();
    const h = await harness({ logger });
    const running = h.sup.runJob('report');
    await h.sup.close();
    await expect(running).resolves.toMatchObject({ job: 'report' });
    expect(info).toHaveLength(1);
  });
});

describe('compact', () => {
  it('is scheduled every 10 minutes for a journaled store, and folds the journal into the snapshot', async () => {
    const h = await harness({}, createTestClock(T0), 'journal');
    const scheduled = cronTasks(h.file);
    expect(Object.keys(scheduled).sort()).toEqual(['compact', 'reconcile']);
    expect(scheduled.compact!.getPattern()).toBe('*/10 * * * *');

    await h.sup.create({ id: 'a' });
    await h.sup.claim('a', { owner: 'w' });
    const journal = `${h.file}.journal`;
    expect(readFileSync(journal, 'utf8')).not.toBe('');
    expect(JSON.parse(readFileSync(h.file, 'utf8'))).toMatchObject({ journalSeq: 0, tasks: {} });

    const result = await h.sup.runJob('compact');
    expect(result).toEqual({ job: 'compact', at: h.clock.now(), count: 0 });
    expect(readFileSync(journal, 'utf8')).toBe('');
    const snapshot = JSON.parse(readFileSync(h.file, 'utf8')) as { tasks: Record<string, { state: unknown }> };
    expect(snapshot.tasks.a!.state).toBe('leased');
    expect(snapshot).toEqual(durableDocument(h.file));
    expect(h.sup.stats().sweeps.compact).toEqual({ runs: 1, count: 0, lastAt: h.clock.now() });

    // node-cron's own trigger, as the schedule would fire it.
    await h.sup.complete('a', { owner: 'w', epoch: 1 });
    await cronTasks(h.file).compact!.execute();
    expect(readFileSync(journal, 'utf8')).toBe('');
    expect((JSON.parse(readFileSync(h.file, 'utf8')) as typeof snapshot).tasks.a!.state).toBe('completed');
    expect(h.sup.stats().sweeps.compact.runs).toBe(2);

    await h.sup.close();
    expect((await rejection(h.sup.runJob('compact'))).code).toBe('SUPERVISOR_CLOSED');
  });

  it('follows its cron option, and is not scheduled (nor can be) for a store without a journal', async () => {
    const h = await harness({ schedule: { compact: '0 * * * *' } }, createTestClock(T0), 'journal');
    expect(cronTasks(h.file).compact!.getPattern()).toBe('0 * * * *');
    await h.restart({ schedule: { compact: false } });
    expect(Object.keys(cronTasks(h.file))).toEqual(['reconcile']);

    const plain = await harness({}, createTestClock(T0), 'json');
    expect(Object.keys(cronTasks(plain.file))).toEqual(['reconcile']);
    expect((await rejection(plain.sup.runJob('compact'))).code).toBe('INVALID_INPUT');
    const file = tempFile();
    const error = await rejection(createSupervisor({ store: jsonFileStore(file, { journal: false }), schedule: { compact: '0 * * * *' } }));
    expect(error.code).toBe('INVALID_INPUT');
    expect(error.message).toContain('journal');
    expect(existsSync(file)).toBe(false);
    const memory = await createSupervisor({ store: memoryStore(), clock: createTestClock(T0) });
    expect((await rejection(memory.runJob('compact'))).code).toBe('INVALID_INPUT');
    await memory.close();
  });
});
