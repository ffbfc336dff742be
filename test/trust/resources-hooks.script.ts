// Run by resources-hooks.test.ts in a child process: every kind of hook the embedding code can
// give a supervisor rejects (or throws) here. The process must survive, and each failure must
// reach logger.warn naming its hook; the warnings are printed as JSON on the last line.
import { createSupervisor, memoryStore } from '../../src/index.js';
import { createTestClock } from '../../src/testing.js';

const warnings: string[] = [];
const logger = { warn: (message: string) => void warnings.push(message) };
const reject = (what: string) => async () => {
  throw new Error(`${what} failed`);
};

const clock = createTestClock(Date.UTC(2026, 0, 1));
const sup = await createSupervisor({
  store: memoryStore(),
  clock,
  logger,
  schedule: false,
  defaults: { leaseMs: 1_000, graceMs: 100 },
  on: { claimed: reject('options.on claimed') },
  onRecovery: reject('onRecovery'),
  // A thenable that is not a Promise: its rejection must be caught too.
  inspect: () => ({ then: (_: unknown, fail: (error: unknown) => void) => fail(new Error('inspect failed')) }) as unknown as void,
});
sup.on('reclaimed', reject('sup.on reclaimed'));
sup.on('expired', () => {
  throw new Error('a sync listener throws');
});
sup.subscribe(reject('stats subscriber'));

await sup.create({ id: 'a' });
await sup.claim('a', { owner: 'w1' });
await clock.advance(2_000);
await sup.claim('a', { owner: 'w2' });
// Let every rejection surface.
for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
await sup.close();
console.log(JSON.stringify({ survived: true, state: sup.get('a')?.state, warnings }));
