// `npm run demo` tells the story the README promises, on the real clock and a real file.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';

const root = join(import.meta.dirname, '..', '..');

test('the demo finishes, reclaims, salvages, compensates, quarantines and survives a restart', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'leasehold-demo-'));
  try {
    const out = execFileSync(join(root, 'node_modules', '.bin', 'tsx'), [join(root, 'src', 'demo', 'main.ts')], {
      cwd,
      encoding: 'utf8',
      timeout: 60_000,
    });
    const row = (task: string) => out.split('\n').find((line) => line.includes(`'${task}'`)) ?? '';
    expect(out).toContain('restarting the supervisor');
    expect(out).toContain("dee's late heartbeat was accepted");
    expect(row('refactor-auth')).toMatch(/'completed'\s*│ 1 /);
    expect(row('migrate-db')).toMatch(/'completed'\s*│ 2 /);
    expect(row('migrate-db')).toContain('bob@1 → cy@2');
    expect(row('write-docs')).toMatch(/'completed'\s*│ 1 /);
    expect(row('flaky-deploy')).toContain("'compensated'");
    expect(row('poison')).toContain("'quarantined'");
    expect(out).toContain('closed PR {"pr":42}; deleted branch {"branch":"agent/deploy"}');
    for (let i = 1; i <= 7; i++) expect(row(`chore-${i}`)).toContain("'completed'");
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
});
