// The README's embedding example runs as written, against the built package (imported by
// its own name, as a user would), and prints what its comments say.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';

const root = join(import.meta.dirname, '..', '..');

test('the README embedding example runs as written', () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Embedding'));
  const example = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  expect(example).toContain("from 'leasehold'");
  // Inside the package folder, so `import ... from 'leasehold'` resolves to the package itself.
  const dir = join(root, '.leasehold', `readme-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  try {
    writeFileSync(join(dir, 'example.ts'), example!);
    const out = execFileSync(join(root, 'node_modules', '.bin', 'tsx'), ['example.ts'], { cwd: dir, encoding: 'utf8' });
    expect(out).toContain('LEASE_CONFLICT not_owner');
    expect(out).toContain('undo: delete branch { branch: \'agent/login\' }');
    expect(out.trim().split('\n').at(-1)).toBe('compensated');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
