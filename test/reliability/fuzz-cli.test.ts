// Fuzzed CLI arguments (issue 7, item 4): the built `leasehold` command (dist/src/cli/main.js,
// rebuilt first when older than the sources) run as a child process with random command
// lines — arbitrary strings, numbers that are not numbers, JSON with prototype-named keys,
// unknown options — against a copy of one store holding a planned, a leased and a completed
// task. Every run must exit with a documented code other than 1 ("unexpected"), say what went
// wrong on stderr in the CLI's one format (`leasehold: CODE: message`, or under --json one
// `{"error":{…}}` object) without a stack trace, release the store's lock, and, when it fails, leave
// the store's files byte-for-byte as they were; a run that succeeds must leave a store that
// opens and holds no "__proto__" key it was asked to store (those are refused).
//
// Runs: LEASEHOLD_CLI_FUZZ_RUNS (default 100), four at a time; LEASEHOLD_SEED replays them.
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSupervisor, jsonFileStore } from '../../src/index.js';
import { createTestClock } from '../../src/testing.js';
import { durableDocument } from '../support.js';
import { countFromEnv, filesOf, lockHeld, report, seedFromEnv, tempDir } from './support.js';

const RUNS = countFromEnv('LEASEHOLD_CLI_FUZZ_RUNS', 100);
const SEED = seedFromEnv();
const CONCURRENCY = 4;
const ROOT = join(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'dist', 'src', 'cli', 'main.js');
const DOCUMENTED_EXITS = new Set([0, 2, 3, 4, 5, 6, 7, 8, 9, 10]);

// ---------------------------------------------------------------------------------------
// command lines

const value = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('planned', 'leased', 'done', 'missing', 'agent', 'ops', '1', '2', '0', '-1', '1.5', 'NaN', '1e309', '0x10', '', ' ') },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      '{"__proto__":{"polluted":true}}',
      '{"constructor":{"prototype":{"polluted":true}}}',
      '__proto__=1',
      '__proto__={"polluted":true}',
      'constructor=2',
      'prototype=3',
      'toString=x',
      'a=b=c',
      '=x',
      '{"a":1}',
      '[1,2]',
      'null',
      'true',
      '{',
      'rollback={"to":"v1"}',
      '__proto__={"x":1}',
    ),
  },
  { weight: 2, arbitrary: fc.string({ maxLength: 12 }).filter((s) => !s.includes('\0')) },
  { weight: 1, arbitrary: fc.json({ maxDepth: 2 }) },
);

const OPTIONS: Record<string, string[]> = {
  create: ['--spec', '--priority', '--label', '--compensation', '--lease-ms', '--grace-ms', '--max-attempts', '--max-stale', '--max-renewals'],
  claim: ['--owner', '--lease-ms'],
  'claim-next': ['--owner', '--lease-ms', '--label'],
  heartbeat: ['--owner', '--epoch', '--lease-ms', '--progress', '--message'],
  extend: ['--owner', '--epoch', '--window-ms'],
  'add-compensation': ['--owner', '--epoch', '--action', '--args'],
  complete: ['--owner', '--epoch', '--result'],
  fail: ['--owner', '--epoch', '--error', '--retryable'],
  release: ['--owner', '--epoch', '--reason'],
  quarantine: ['--by', '--reason'],
  annotate: [],
  list: ['--state'],
  show: [],
  stats: [],
  trace: [],
  diagram: ['--machine', '--format', '--detail', '--live'],
};
const REQUIRED: Record<string, string[]> = {
  claim: ['--owner'],
  'claim-next': ['--owner'],
  heartbeat: ['--owner', '--epoch'],
  extend: ['--owner', '--epoch', '--window-ms'],
  'add-compensation': ['--owner', '--epoch', '--action'],
  complete: ['--owner', '--epoch'],
  fail: ['--owner', '--epoch', '--error'],
  release: ['--owner', '--epoch'],
  quarantine: ['--by', '--reason'],
};
const POSITIONALS: Record<string, number> = { create: 1, claim: 1, heartbeat: 1, extend: 1, 'add-compensation': 1, complete: 1, fail: 1, release: 1, quarantine: 1, annotate: 3, show: 1, trace: 1 };

const json = fc.constantFrom('{"branch":"b"}', '{"__proto__":{"polluted":true}}', '{"constructor":{"prototype":1}}', '[1]', 'null', '{', '"text"');
/** Values that make sense for an option (right type, edge values), so that runs get past parsing. */
const PLAUSIBLE: Record<string, fc.Arbitrary<string>> = {
  '--owner': fc.constantFrom('agent', 'other', ' '),
  '--epoch': fc.constantFrom('1', '2', '0', '-1', '1.5'),
  '--lease-ms': fc.constantFrom('60000', '1', '0.5', '0', '-1', '1e309'),
  '--grace-ms': fc.constantFrom('0', '1000', '-1'),
  '--window-ms': fc.constantFrom('600000', '1', '0'),
  '--max-attempts': fc.constantFrom('1', '3', '0', '2.5'),
  '--max-stale': fc.constantFrom('1', '0'),
  '--max-renewals': fc.constantFrom('1', '0'),
  '--progress': fc.constantFrom('0', '50', '100', '101', '-1'),
  '--message': fc.constantFrom('tests pass', ''),
  '--action': fc.constantFrom('undo', '__proto__', 'constructor', ''),
  '--args': json,
  '--result': json,
  '--spec': json,
  '--error': fc.constantFrom('CI is down', ''),
  '--reason': fc.constantFrom('poison', ''),
  '--by': fc.constantFrom('ops', ''),
  '--priority': fc.constantFrom('high', 'critical', 'bogus'),
  '--label': fc.constantFrom('backend', '__proto__', ''),
  '--compensation': fc.constantFrom('undo', 'undo={"to":"v1"}', 'undo={"__proto__":{}}', '__proto__', 'undo={'),
  '--state': fc.constantFrom('stale', 'leased', 'bogus'),
  '--machine': fc.constantFrom('task', 'supervisor', 'bogus'),
  '--format': fc.constantFrom('mermaid', 'dot', 'stately', 'bogus'),
  '--detail': fc.constantFrom('compact', 'full'),
};
const ID = fc.constantFrom('planned', 'leased', 'done', 'missing', '__proto__', 'constructor', 'new-task');
const PAIR = fc.constantFrom('ticket=OPS-1', 'n=3', '__proto__=1', 'constructor={"prototype":1}', 'toString=x', 'a=b=c', '=x', 'x');

const optionValue = (option: string) => fc.oneof({ weight: 3, arbitrary: PLAUSIBLE[option] ?? value }, { weight: 1, arbitrary: value });

/** A command with its required options and some optional ones, mostly plausible. */
const plausibleLine = fc.constantFrom(...Object.keys(OPTIONS)).chain((command) =>
  fc.tuple(
    fc.constant(command),
    fc.array(fc.oneof({ weight: 3, arbitrary: command === 'annotate' ? fc.oneof(ID, PAIR) : ID }, { weight: 1, arbitrary: value }), {
      minLength: POSITIONALS[command] ?? 0,
      maxLength: POSITIONALS[command] ?? 0,
    }),
    fc.tuple(...(REQUIRED[command] ?? []).map((option) => optionValue(option).map((v) => [option, v] as [string, string | undefined]))),
    fc.array(
      fc.constantFrom(...(OPTIONS[command]!.length > 0 ? OPTIONS[command]! : ['--json'])).chain((option) =>
        option === '--retryable' || option === '--live' || option === '--json'
          ? fc.constant([option, undefined] as [string, string | undefined])
          : optionValue(option).map((v) => [option, v] as [string, string | undefined]),
      ),
      { maxLength: 3 },
    ),
  ).map(([command, positionals, required, optional]) => [command, positionals, [...required, ...optional]] as const),
);

/** Anything goes: random positionals and options, unknown ones included. */
const chaoticLine = fc.constantFrom(...Object.keys(OPTIONS)).chain((command) =>
  fc.tuple(
    fc.constant(command),
    fc.array(value, { minLength: 0, maxLength: POSITIONALS[command] ?? 1 }),
    fc.array(fc.tuple(fc.constantFrom(...OPTIONS[command]!, '--bogus', '--json', '--help'), fc.option(value, { nil: undefined })), { maxLength: 5 }),
  ),
);

const commandLine = fc
  .tuple(fc.oneof({ weight: 3, arbitrary: plausibleLine }, { weight: 1, arbitrary: chaoticLine }), fc.boolean(), fc.constantFrom('store', 'store', 'store', 'store', 'store', 'store', 'store', 'store', 'store', 'directory', 'not-json'))
  .map(([[command, positionals, options], json, where]) => ({
    where,
    args: [
      ...(json ? ['--json'] : []),
      command,
      ...positionals,
      ...options.flatMap(([option, v]) => (v === undefined ? [option] : [option, v])),
    ],
  }));

// ---------------------------------------------------------------------------------------

let base: { dir: string; remove: () => void };
const codes = new Map<number, number>();
let runs = 0;

beforeAll(async () => {
  buildIfStale();
  base = tempDir('cli-fuzz');
  // The CLI runs on the wall clock, so the stored lease must be live by the wall clock.
  const file = join(base.dir, 'store.json');
  const sup = await createSupervisor({ store: jsonFileStore(file), clock: createTestClock(Date.now()), schedule: false });
  await sup.create({ id: 'planned', spec: { branch: 'b' }, compensations: [{ action: 'undo' }] });
  await sup.create({ id: 'leased' });
  await sup.claim('leased', { owner: 'agent', leaseMs: 3_600_000 });
  await sup.create({ id: 'done' });
  const lease = await sup.claim('done', { owner: 'agent' });
  await sup.complete('done', { owner: 'agent', epoch: lease.epoch });
  await sup.close();
  writeFileSync(join(base.dir, 'not-json'), 'this is not a store');
}, 120_000);

afterAll(() => {
  base?.remove();
  report(
    `fuzzed CLI arguments (seed ${SEED}): ${runs} command lines, exits ${[...codes]
      .sort(([a], [b]) => a - b)
      .map(([code, n]) => `${code}×${n}`)
      .join(', ')}; none unexpected (1), no stack trace, no store change on failure`,
  );
});

describe('fuzzed CLI arguments', () => {
  it(`${RUNS} random command lines: documented exit codes, no stack traces, no change on failure`, async () => {
    const samples = fc.sample(commandLine, { seed: SEED, numRuns: RUNS });
    const failures: string[] = [];
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < samples.length; i = next++) {
        const problem = await runOne(i, samples[i]!);
        if (problem) failures.push(problem);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    expect(failures, `replay with LEASEHOLD_SEED=${SEED}`).toEqual([]);
  }, 240_000);
});

describe('CLI inputs found by the fuzzer', () => {
  const cases: [string, string[], RegExp][] = [
    // Values the command's own action parses were refused with exit 2 and no word on stderr.
    ['a malformed key=value pair', ['annotate', 'planned', '{'], /leasehold: INVALID_INPUT: expected key=value/],
    ['a malformed compensation', ['create', 'x', '--compensation', 'undo={'], /leasehold: INVALID_INPUT: expected JSON/],
    // zod drops "__proto__" keys from what it parses: they are refused instead of lost.
    ['a "__proto__" metadata key', ['annotate', 'planned', '__proto__={"polluted":true}'], /leasehold: INVALID_INPUT: .*__proto__/],
    ['a "__proto__" key in a spec', ['create', 'x', '--spec', '{"__proto__":{"polluted":true}}'], /leasehold: INVALID_INPUT: .*__proto__/],
  ];
  for (const [what, args, stderr] of cases) {
    it(`${what}: exit 2 with the reason on stderr, store untouched`, async () => {
      const dir = join(base.dir, `case-${what.replace(/\W+/g, '-')}`);
      mkdirSync(dir);
      copyFileSync(join(base.dir, 'store.json'), join(dir, 'store.json'));
      const before = filesOf(dir);
      const result = spawnSync(process.execPath, [BIN, '--store', join(dir, 'store.json'), ...args], { cwd: dir, encoding: 'utf8' });
      expect(result.status).toBe(2);
      expect(result.stderr).toMatch(stderr);
      expect(filesOf(dir)).toEqual(before);
    });
  }
});

async function runOne(index: number, sample: { where: string; args: string[] }): Promise<string | undefined> {
  const dir = join(base.dir, `run-${index}`);
  mkdirSync(dir);
  copyFileSync(join(base.dir, 'store.json'), join(dir, 'store.json'));
  writeFileSync(join(dir, 'not-json'), 'this is not a store');
  const store = sample.where === 'directory' ? dir : join(dir, sample.where === 'not-json' ? 'not-json' : 'store.json');
  const before = filesOf(dir);
  const argv = ['--store', store, ...sample.args];
  const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, [BIN, ...argv], { cwd: dir, timeout: 30_000, encoding: 'utf8' }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
      resolve({ code, stdout, stderr });
    });
  });
  runs++;
  codes.set(result.code ?? -1, (codes.get(result.code ?? -1) ?? 0) + 1);
  const where = `run ${index}: leasehold ${JSON.stringify(argv)} → exit ${result.code}\n${result.stderr}`;
  if (result.code === null || !DOCUMENTED_EXITS.has(result.code)) return `${where}: undocumented or unexpected exit`;
  if (/\n\s+at .+:\d+:\d+/.test(result.stderr)) return `${where}: a stack trace on stderr`;
  if (lockHeld(store)) return `${where}: the store's lock was left behind`;
  if (result.code !== 0) {
    if (!explained(result.stderr)) return `${where}: no explanation on stderr in leasehold's own format`;
    const after = filesOf(dir);
    if (!sameFiles(before, after)) return `${where}: a failed command changed the store's files`;
    return undefined;
  }
  if (store.endsWith('store.json')) {
    // As a key in a task's data only: "__proto__" is a fine label or string value (found by this
    // fuzzer: --label __proto__), and a fine task id (`create __proto__`), which is a key of the
    // snapshot's `tasks` and of a journal line's `changes`, read back with JSON.parse as its own key.
    const tasks = existsSync(store) ? durableDocument<unknown>(store).tasks : {};
    if (Object.values(tasks).some((record) => /"__proto__"\s*:/.test(JSON.stringify(record)))) return `${where}: a "__proto__" key was stored`;
    try {
      const sup = await createSupervisor({ store: jsonFileStore(store), schedule: false, logger: { warn: () => {} } });
      await sup.close();
    } catch (error) {
      return `${where}: the store no longer opens: ${String(error)}`;
    }
  }
  return undefined;
}

/**
 * Whether stderr says what went wrong in the CLI's one format: lines that all start
 * `leasehold: ` (the first `leasehold: CODE: message`), or with --json one object
 * `{"error":{"code","message",…}}` and nothing else. Commander's own "error: …" fails it.
 */
function explained(stderr: string) {
  const lines = stderr.trimEnd().split('\n');
  if (/^leasehold: [A-Z_]+: \S/.test(lines[0]!) && lines.every((line) => line.startsWith('leasehold: '))) return true;
  try {
    const { error, ...rest } = JSON.parse(stderr) as { error?: { code?: unknown; message?: unknown } };
    return Object.keys(rest).length === 0 && typeof error?.code === 'string' && /^[A-Z_]+$/.test(error.code) && typeof error.message === 'string' && error.message !== '';
  } catch {
    return false;
  }
}

function sameFiles(a: Map<string, string>, b: Map<string, string>) {
  // A diagram written with -o would be a new file; none of the fuzzed options write one.
  return a.size === b.size && [...a].every(([name, bytes]) => b.get(name) === bytes);
}

/** Rebuilds dist/ when a source file is newer than the built CLI (npm test builds first anyway). */
function buildIfStale() {
  const built = existsSync(BIN) ? statSync(BIN).mtimeMs : 0;
  const newest = (dir: string): number =>
    readdirSync(dir, { withFileTypes: true }).reduce((latest, entry) => {
      const path = join(dir, entry.name);
      return Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
    }, 0);
  if (Math.max(newest(join(ROOT, 'src')), newest(join(ROOT, 'machines'))) > built) {
    report('fuzzed CLI arguments: dist/ is older than the sources; rebuilding it first');
    execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'tsconfig.build.json')], {
      cwd: ROOT,
      stdio: 'pipe',
    });
  }
}
