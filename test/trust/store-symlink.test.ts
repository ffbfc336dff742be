// Issue #11, item 9: a store reached through a symbolic link (to the file or to a directory on
// its path) is the same store: one lock, on the real path, and every file beside it (journal,
// snapshot temp file, owner sidecar, archive) kept beside the real file.
import { existsSync, lstatSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { archivePathOf, createSupervisor, type Supervisor } from '../../src/index.js';
import { createTestClock } from '../../src/testing.js';
import { rejection, storeOf, T0, type StoreKind } from '../support.js';

const dirs: string[] = [];
const open: Supervisor[] = [];
afterEach(async () => {
  for (const sup of open.splice(0)) await sup.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function layout() {
  const root = mkdtempSync(join(tmpdir(), 'leasehold-symlink-'));
  dirs.push(root);
  const real = join(root, 'real');
  mkdirSync(real);
  const file = join(real, 'store.json');
  const fileLink = join(root, 'link.json');
  const dirLink = join(root, 'dirlink');
  symlinkSync(file, fileLink);
  symlinkSync(real, dirLink);
  return { root, real, file, fileLink, viaDirLink: join(dirLink, 'store.json') };
}

async function supervisor(path: string, kind: StoreKind) {
  const sup = await createSupervisor({ store: storeOf(path, kind), clock: createTestClock(T0), schedule: false });
  open.push(sup);
  return sup;
}

for (const kind of ['json', 'journal'] as const) {
  describe(`a ${kind} store reached through a symlink`, () => {
    it('refuses a second supervisor through a symlinked file path with STORE_LOCKED', async () => {
      const paths = layout();
      const first = await supervisor(paths.file, kind);
      await first.create({ id: 't' });
      const error = await rejection(supervisor(paths.fileLink, kind));
      expect(error.code).toBe('STORE_LOCKED');
    });

    it('refuses a second supervisor through a symlinked directory with STORE_LOCKED', async () => {
      const paths = layout();
      await supervisor(paths.file, kind);
      const error = await rejection(supervisor(paths.viaDirLink, kind));
      expect(error.code).toBe('STORE_LOCKED');
    });

    it('locks the real path when the first opener came through the link and the file did not exist yet', async () => {
      const paths = layout();
      await supervisor(paths.viaDirLink, kind);
      expect((await rejection(supervisor(paths.file, kind))).code).toBe('STORE_LOCKED');
      expect((await rejection(supervisor(paths.fileLink, kind))).code).toBe('STORE_LOCKED');
    });

    it('writes beside the real file and leaves the link a link', async () => {
      const paths = layout();
      const sup = await supervisor(paths.fileLink, kind);
      await sup.create({ id: 't' });
      await sup.claim('t', { owner: 'w' });
      expect(lstatSync(paths.fileLink).isSymbolicLink()).toBe(true);
      expect(lstatSync(paths.file).isFile()).toBe(true);
      expect(existsSync(`${paths.file}.lock.owner`)).toBe(true);
      expect(existsSync(`${paths.fileLink}.lock`)).toBe(false);
      expect(existsSync(`${paths.fileLink}.journal`)).toBe(false);
      await sup.close();
      open.splice(0);
      const again = await supervisor(paths.file, kind);
      expect(again.get('t')!.state).toBe('leased');
    });

    it('puts the archive beside the real file', () => {
      const paths = layout();
      expect(archivePathOf(paths.fileLink)).toBe(archivePathOf(paths.file));
      expect(archivePathOf(paths.viaDirLink)).toBe(archivePathOf(paths.file));
    });
  });
}
