// Where a store file really is: its path with every symbolic link resolved, the file's own and
// its directories'. A store is one store whatever path reaches it, so its lock, its journal,
// the snapshot's temp file, the owner sidecar and the archive are all named from this path:
// locking a link's path would let a second supervisor in through the real one, and steno's
// rename onto a link would replace the link with a file.

import { readlinkSync, realpathSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

/** Links followed before giving up; the kernel's own limit (ELOOP) is 40. */
const MAX_LINKS = 40;

/**
 * `path` with its symlinks resolved. A file that does not exist yet is named in its directory's
 * real path; a dangling link is followed to where the file will be created. Synchronous: it
 * names the archive before any store is opened (schedule options, the CLI).
 */
export function realStorePath(path: string): string {
  let target = resolve(path);
  for (let links = 0; links < MAX_LINKS; links++) {
    try {
      return realpathSync.native(target);
    } catch {
      // Not there (yet), or not reachable: resolved below as far as it exists.
    }
    let link: string;
    try {
      link = readlinkSync(target);
    } catch {
      // Not a link: a file to be created, in a directory that may be a link or not exist yet.
      return join(realDirectory(dirname(target)), basename(target));
    }
    target = resolve(dirname(target), link);
  }
  // A loop of links: opening it will say so (ELOOP).
  return target;
}

/** The nearest existing ancestor's real path, with the rest (to be created) appended. */
function realDirectory(directory: string): string {
  try {
    return realpathSync.native(directory);
  } catch {
    const parent = dirname(directory);
    return parent === directory ? directory : join(realDirectory(parent), basename(directory));
  }
}
