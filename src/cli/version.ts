// The version `leasehold --version` prints: the one in the package's own package.json, read
// when asked, so it can never disagree with the package that is running. The file is found
// by walking up from this module, which sits at src/cli/ under tsx and at dist/src/cli/ once
// built (and under node_modules/leasehold/ when installed).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function packageVersion(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const manifest = JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown; version?: unknown };
      // Another package.json on the way up (a workspace's) is not ours: keep going.
      if (manifest.name === 'leasehold' && typeof manifest.version === 'string') return manifest.version;
    }
    if (dirname(dir) === dir) return 'unknown';
  }
}
