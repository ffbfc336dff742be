// `<store>.daemon.json`: how the CLI on the same machine finds a daemon serving a store — its
// url, pid and admin token, in a file only its user can read (mode 0600), written atomically
// when the server is listening and removed when it closes.
import { readFileSync, rmSync } from 'node:fs';
import { writeFileAtomically } from '../store/files.js';

export interface DaemonInfo {
  url: string;
  pid: number;
  adminToken: string;
}

export const daemonFileOf = (storeFile: string) => `${storeFile}.daemon.json`;

export function writeDaemonFile(file: string, info: DaemonInfo): Promise<void> {
  return writeFileAtomically(file, `${JSON.stringify(info, null, 2)}\n`, 0o600);
}

/** The daemon file's contents, or undefined when there is none (or it is not one). */
export function readDaemonFile(file: string): DaemonInfo | undefined {
  try {
    const info = JSON.parse(readFileSync(file, 'utf8')) as Partial<DaemonInfo>;
    if (typeof info.url !== 'string' || typeof info.pid !== 'number' || typeof info.adminToken !== 'string') return undefined;
    return { url: info.url, pid: info.pid, adminToken: info.adminToken };
  } catch {
    return undefined;
  }
}

export function removeDaemonFile(file: string): void {
  rmSync(file, { force: true });
}
