// Small file-system helpers shared by the JSON snapshot and its journal (and the service's
// small files): fsync of a path and of a directory entry, an atomic write, and reading Node's
// error codes and messages.

import { open as openFile, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';

async function syncPath(path: string): Promise<void> {
  const handle = await openFile(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Makes a rename or a creation in `file`'s directory durable (a no-op where directories cannot be opened). */
export async function syncDirectoryOf(file: string): Promise<void> {
  if (process.platform !== 'win32') await syncPath(dirname(file));
}

/**
 * Writes `text` to `file` so that a reader sees the old file or the new one, never a part:
 * a temp file beside it (created with `mode`), fsynced, renamed over it, the rename fsynced.
 */
export async function writeFileAtomically(file: string, text: string, mode = 0o600): Promise<void> {
  const temp = `${file}.${process.pid}.tmp`;
  const handle = await openFile(temp, 'w', mode);
  try {
    await handle.writeFile(text, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, file);
  await syncDirectoryOf(file);
}

export async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

export function errorCode(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const { code } = error as { code: unknown };
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

export function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
