// Item 8: a hook or listener given by the embedding code that throws or rejects (async
// listeners, onRecovery, stats subscribers, the inspection observer, the logger itself) never
// becomes an unhandled rejection that kills the process, and never undoes a durable change:
// it is logged through logger.warn, naming which hook it was.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createSupervisor, memoryStore } from '../../src/index.js';
import { createTestClock } from '../../src/testing.js';
import { T0 } from '../support.js';

const script = fileURLToPath(new URL('./resources-hooks.script.ts', import.meta.url));

describe('hooks that throw or reject', () => {
  it('leave the process running and are logged, one warning per hook kind', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', timeout: 60_000 });
    expect(run.stderr).not.toMatch(/unhandled|Error: .* failed/i);
    expect(run.status).toBe(0);
    const report = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as { survived: boolean; state: string; warnings: string[] };
    expect(report.survived).toBe(true);
    const warned = (pattern: RegExp) => report.warnings.some((w) => pattern.test(w));
    expect(warned(/"claimed" listener/)).toBe(true);
    expect(warned(/"reclaimed" listener/)).toBe(true);
    expect(warned(/"expired" listener/)).toBe(true);
    expect(warned(/onRecovery/)).toBe(true);
    expect(warned(/stats listener/)).toBe(true);
    expect(warned(/inspect/)).toBe(true);
  });

  it('a logger that throws (or rejects) while reporting a listener failure does not undo the durable change', async () => {
    for (const warn of [
      () => {
        throw new Error('logger down');
      },
      () => Promise.reject(new Error('logger down')),
    ]) {
      const clock = createTestClock(T0);
      const unhandled: unknown[] = [];
      const onUnhandled = (reason: unknown) => unhandled.push(reason);
      process.on('unhandledRejection', onUnhandled);
      const sup = await createSupervisor({ store: memoryStore(), clock, schedule: false, logger: { warn: warn as () => void } });
      try {
        sup.on('claimed', () => {
          throw new Error('listener down');
        });
        await sup.create({ id: 'a' });
        const lease = await sup.claim('a', { owner: 'w' });
        expect(lease.owner).toBe('w');
        await clock.settle();
        expect(sup.get('a')!.state).toBe('leased');
        for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
        expect(unhandled).toEqual([]);
      } finally {
        process.off('unhandledRejection', onUnhandled);
        await sup.close();
      }
    }
  });
});
