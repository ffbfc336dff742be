// The README's examples run as written, against the built package (imported by its own
// name, as a user would) and the built `leasehold` command, and print what their comments say.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';

const root = join(import.meta.dirname, '..', '..');

const readme = readFileSync(join(root, 'README.md'), 'utf8');

/** The code blocks of `language` in the README section whose heading is `heading`, in order. */
function blocks(heading: string, language: string): string[] {
  const start = readme.indexOf(`${heading}\n`);
  expect(start, heading).toBeGreaterThanOrEqual(0);
  const level = /^#+/.exec(heading)![0];
  const rest = readme.slice(start + heading.length);
  // The section ends at the next heading of its level or above.
  const end = rest.search(new RegExp(`\\n#{1,${level.length}} `));
  const section = end < 0 ? rest : rest.slice(0, end);
  return [...section.matchAll(new RegExp(`\`\`\`${language}\\n([\\s\\S]*?)\`\`\``, 'g'))].map((m) => m[1]!);
}

/** Runs a TypeScript example inside the package folder, so `from 'leasehold'` resolves to the package itself. */
function runExample(example: string): string {
  const dir = join(root, '.leasehold', `readme-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  try {
    writeFileSync(join(dir, 'example.ts'), example);
    return execFileSync(join(root, 'node_modules', '.bin', 'tsx'), ['example.ts'], { cwd: dir, encoding: 'utf8' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('the README embedding example runs as written', () => {
  const example = blocks('## Embedding', 'ts')[0];
  expect(example).toContain("from 'leasehold'");
  const out = runExample(example!);
  expect(out).toContain('LEASE_CONFLICT not_owner');
  expect(out).toContain('undo: delete branch { branch: \'agent/login\' }');
  expect(out.trim().split('\n').at(-1)).toBe('compensated');
});

test('the README diagrams example (leasehold/visualize) runs as written', () => {
  const example = blocks('### Diagrams (`leasehold/visualize`)', 'ts')[0];
  expect(example).toContain("from 'leasehold/visualize'");
  const out = runExample(example!);
  expect(out).toMatch(/^---\ntitle: .*\n---\nstateDiagram-v2\n/);
  expect(out).toContain('[not isOwner] / reject(not_owner)');
  expect(out).toContain('\ntrue\n');
  expect(out).toContain('sequenceDiagram');
});

// --- The CLI block, line by line, each a shell command as a reader would paste it. The store is
// the default one (.leasehold/store.json) under a fresh temp folder, not an explicit --store,
// which would turn every `diagram` into the live view and change what the lines do.

const bin = join(root, 'dist', 'src', 'cli', 'main.js');

/** Runs one README line with `sh -e` in `cwd`, `leasehold` being the built CLI. */
function shell(line: string, cwd: string) {
  const script = `leasehold() { "$LEASEHOLD_NODE" "$LEASEHOLD_BIN" "$@"; }\n${line}\n`;
  return spawnSync('sh', ['-ec', script], { cwd, encoding: 'utf8', env: { ...process.env, LEASEHOLD_NODE: process.execPath, LEASEHOLD_BIN: bin } });
}

function runLines(lines: string[], cwd: string) {
  for (const line of lines) {
    const result = shell(line, cwd);
    expect({ line, status: result.status, stderr: result.stderr }).toEqual({ line, status: 0, stderr: '' });
  }
}

test('the README CLI block runs top to bottom on a fresh store, and each alternative to complete in its place', () => {
  const [main, alternatives] = blocks('### CLI', 'sh').map((block) => block.split('\n').filter((line) => line.trim() !== ''));
  expect(main!.every((line) => line.startsWith('leasehold '))).toBe(true);
  const complete = main!.findIndex((line) => line.startsWith('leasehold complete '));
  expect(complete).toBeGreaterThan(0);
  expect(alternatives!.length).toBeGreaterThan(0);

  const base = mkdtempSync(join(tmpdir(), 'leasehold-readme-cli-'));
  try {
    const before = join(base, 'before-complete');
    mkdirSync(before);
    runLines(main!.slice(0, complete), before);
    const all = join(base, 'all');
    cpSync(before, all, { recursive: true });
    runLines(main!.slice(complete), all);
    expect(existsSync(join(all, '.leasehold', 'store.json'))).toBe(true);
    expect(readFileSync(join(all, 'live.svg'), 'utf8')).toContain('<svg');
    alternatives!.forEach((line, i) => {
      const dir = join(base, `alternative-${i}`);
      cpSync(before, dir, { recursive: true });
      runLines([line], dir);
    });
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});
