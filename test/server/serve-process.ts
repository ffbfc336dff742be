// The built `leasehold` command as child processes, for the tests of `leasehold serve` and of
// the CLI over a daemon: `leasehold(...)` runs one command and waits (bounded), `startDaemon`
// starts `leasehold serve --port 0` on a store and waits (bounded) for its one line. Every
// process started here is killed, and every cleanup run, after each test.
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';

export const bin = join(import.meta.dirname, '..', '..', 'dist', 'src', 'cli', 'main.js');
export const leasehold = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 20_000 });

export interface Ran {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * One command without blocking this process (for a server this process runs itself), with
 * `env` added to this process's environment (LEASEHOLD_* ones it has are left out), bounded.
 */
export function leaseholdAsync(args: string[], options: { env?: Record<string, string>; cwd?: string } = {}): Promise<Ran> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('LEASEHOLD_')));
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 20_000, env: { ...env, ...options.env }, ...(options.cwd && { cwd: options.cwd }) }, (error, stdout, stderr) =>
      resolve({ status: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr }),
    );
  });
}

/** A fresh directory (removed after the test) and a store path in it. */
export function storeDir() {
  const dir = mkdtempSync(join(tmpdir(), 'leasehold-serve-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return { dir, store: join(dir, 'store.json') };
}

/** Run after each test, newest first. */
export const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

export interface Daemon {
  child: ChildProcess;
  url: string;
  stdout: () => string;
  stderr: () => string;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

/** `args`: more options of `serve` (a later `--port` wins over the `--port 0` given first). */
export async function startDaemon(store: string, env: Record<string, string> = {}, args: string[] = []): Promise<Daemon> {
  const child = spawn(process.execPath, [bin, '--store', store, 'serve', '--port', '0', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  cleanups.push(() => void (child.exitCode === null && child.kill('SIGKILL')));
  const ready = await Promise.race([
    new Promise<boolean>((resolve) => {
      const check = () => (out.includes('\n') ? resolve(true) : child.stdout!.once('data', check));
      check();
    }),
    exited.then(() => false),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 15_000)),
  ]);
  if (!ready) throw new Error(`leasehold serve did not start: ${err}`);
  // A standby (PostgreSQL store) says so on the same line.
  const url = /^leasehold listening on (http:\/\/127\.0\.0\.1:\d+)(?: \(standby[^)\n]*\))?\n$/.exec(out)?.[1];
  if (!url) throw new Error(`unexpected first output: ${JSON.stringify(out)}`);
  return {
    child,
    url,
    stdout: () => out,
    stderr: () => err,
    stop: () => {
      child.kill('SIGTERM');
      return Promise.race([exited, new Promise<null>((resolve) => setTimeout(() => resolve(null), 15_000))]);
    },
  };
}
