// Issue #11, item 11: free-form JSON arguments (spec, metadata, result, compensation args,
// policy) are bounded before anything walks them recursively: at most 64 levels of nesting and
// 1 MiB of JSON text each, else INVALID_INPUT naming the field (never a RangeError from a
// stack overflow), nothing written. A store file crafted with a record nested deeper than a
// store ever writes is STORE_CORRUPT, untouched; the CLI exits with INVALID_INPUT's code.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT_CODES } from '../../src/cli/exit-codes.js';
import { createSupervisor, type Json } from '../../src/index.js';
import { harness, rejection, storeOf } from '../support.js';

/** `{"a":{"a":…{"a":1}…}}` with `levels` objects. */
function nested(levels: number): Json {
  let value: Json = 1;
  for (let level = 0; level < levels; level++) value = { a: value };
  return value;
}
const nestedText = (levels: number) => `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`;

describe('free-form JSON arguments are bounded', () => {
  it('accepts 64 levels of nesting and refuses 65, naming the field', async () => {
    const h = await harness();
    await h.sup.create({ id: 'ok', spec: nested(64) });
    const error = await rejection(h.sup.create({ id: 'deep', spec: nested(65) }));
    expect(error.code).toBe('INVALID_INPUT');
    expect(error.message).toMatch(/spec: .*64 levels/);
  });

  it('refuses ~3,000 levels in every free-form field with INVALID_INPUT, not a RangeError, writing nothing', async () => {
    const h = await harness();
    await h.sup.create({ id: 't' });
    const lease = await h.sup.claim('t', { owner: 'w' });
    const before = h.bytes();
    const deep = nested(3_000);
    const calls: [string, () => Promise<unknown>][] = [
      ['spec', () => h.sup.create({ id: 'u', spec: deep })],
      ['policy', () => h.sup.create({ id: 'u', policy: deep })],
      ['compensations.0.args', () => h.sup.create({ id: 'u', compensations: [{ action: 'x', args: deep }] })],
      ['args', () => h.sup.addCompensation('t', { owner: 'w', epoch: lease.epoch, action: 'x', args: deep })],
      ['result', () => h.sup.complete('t', { owner: 'w', epoch: lease.epoch, result: deep })],
      ['note', () => h.sup.annotate('t', { note: deep })],
    ];
    for (const [field, call] of calls) {
      const error = await rejection(call());
      expect(error.code, field).toBe('INVALID_INPUT');
      expect(error.message, field).toContain(`${field}: `);
    }
    // The __proto__ walker must not overflow either, on anything deeper still.
    const deeper = nested(200_000);
    expect((await rejection(h.sup.create({ id: 'u', spec: deeper }))).code).toBe('INVALID_INPUT');
    expect((await rejection(h.sup.annotate('t', deeper as { [key: string]: Json }))).code).toBe('INVALID_INPUT');
    expect(h.bytes()).toBe(before);
  });

  it('refuses more than 1 MiB of JSON text in a field, naming it', async () => {
    const h = await harness();
    const before = h.bytes();
    const error = await rejection(h.sup.create({ id: 'big', spec: { text: 'x'.repeat(1024 * 1024) } }));
    expect(error.code).toBe('INVALID_INPUT');
    expect(error.message).toMatch(/spec: .*1 MiB/);
    const meta = await rejection(h.sup.annotate('none', { a: 'x'.repeat(600_000), b: 'y'.repeat(600_000) }));
    expect(meta.code).toBe('INVALID_INPUT');
    expect(h.bytes()).toBe(before);
  });
});

for (const kind of ['json', 'journal'] as const) {
  describe(`a ${kind} store file crafted with a deeply nested record`, () => {
    for (const levels of [5_000, 200_000]) {
      it(`is STORE_CORRUPT at ${levels} levels, untouched`, async () => {
        const h = await harness({}, undefined, kind);
        await h.sup.create({ id: 't', spec: 'SPEC' });
        await h.sup.close();
        const snapshot = readFileSync(h.file, 'utf8');
        const deep = snapshot.replace('"SPEC"', nestedText(levels));
        if (kind === 'json') {
          writeFileSync(h.file, deep);
        } else {
          // The deep record as a journal line the snapshot does not hold yet.
          const document = JSON.parse(snapshot) as { journalSeq: number };
          const line = deep.split('\n').find((text) => text.startsWith('"t":'))!.replace(/,$/, '');
          writeFileSync(`${h.file}.journal`, `{"seq":${document.journalSeq + 1},"changes":{${line}}}\n`);
        }
        const before = h.bytes();
        const error = await rejection(createSupervisor({ store: storeOf(h.file, kind), clock: h.clock }));
        expect(error.code).toBe('STORE_CORRUPT');
        expect(error.message).toContain(h.file);
        expect(h.bytes()).toBe(before);
      });
    }
  });
}

describe('the CLI', () => {
  const bin = join(import.meta.dirname, '..', '..', 'dist', 'src', 'cli', 'main.js');
  it('exits with INVALID_INPUT, not 1 with a stack, for a deeply nested --spec', async () => {
    expect(existsSync(bin), 'run `npm run build` first').toBe(true);
    const h = await harness();
    await h.sup.close();
    const run = spawnSync(process.execPath, [bin, '--store', h.file, 'create', 'deep', '--spec', nestedText(3_000)], { encoding: 'utf8' });
    expect(run.stderr).toContain('INVALID_INPUT');
    expect(run.stderr).not.toContain('    at ');
    expect(run.status).toBe(EXIT_CODES.INVALID_INPUT);
  });
});
