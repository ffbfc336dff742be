// `npm run demo` tells the story the README promises, on the real clock and a real file, with
// its agents as child processes talking to the served supervisor (one of them through MCP).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';

const root = join(import.meta.dirname, '..', '..');

test('the demo finishes, reclaims, salvages, compensates, quarantines, survives a restart and adapts leases', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'leasehold-demo-'));
  try {
    const out = execFileSync(join(root, 'node_modules', '.bin', 'tsx'), [join(root, 'src', 'demo', 'main.ts')], {
      cwd,
      encoding: 'utf8',
      timeout: 60_000,
    });
    const row = (task: string) => out.split('\n').find((line) => line.includes(`'${task}'`)) ?? '';
    expect(out).toContain('12 agent processes ready');
    expect(out).toContain("☠ bob's process died (SIGKILL)");
    expect(out).toContain('restarting the supervisor and its server');
    expect(out).toContain('dee heartbeats late, in grace: accepted');
    expect(out).toMatch(/cy \(MCP\) called claim → migrate-db epoch 2, with hand-off: "Task migrate-db was held by bob/);
    expect(out).toContain('cy (MCP) called complete');
    expect(row('refactor-auth')).toMatch(/'completed'\s*│ 1 /);
    expect(row('migrate-db')).toMatch(/'completed'\s*│ 2 /);
    expect(row('migrate-db')).toContain('bob@1 → cy@2');
    expect(row('write-docs')).toMatch(/'completed'\s*│ 1 /);
    expect(row('flaky-deploy')).toContain("'compensated'");
    expect(row('poison')).toContain("'quarantined'");
    expect(out).toContain('closed PR {"pr":42}; deleted branch {"branch":"agent/deploy"}');
    for (let i = 1; i <= 7; i++) expect(row(`chore-${i}`)).toContain("'completed'");
    // Act two: the progressive policy lengthens the lease with progress; a merge conflict buys grace.
    expect(out).toContain('eli claimed long-refactor under the progressive policy: 900 ms before any report');
    expect(out).toContain('eli at 80% → lease renewed for 1800 ms, grace 450 ms');
    expect(out).toContain('rebase-api: grace extended +1500 ms for fay (merge-conflict)');
    expect(row('rebase-api')).toMatch(/'completed'\s*│ 1 /);
    // The stats read model saw the second half: reclaims, the extension by reason, recoveries.
    expect(out).toMatch(/1 grace extension \(merge-conflict 1\)/);
    expect(out).toMatch(/2 reclaims \(0 spurious\)/);
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
});
