// The parent's side of the failover and pause trials: starts the supervisor nodes
// (failover-node.ts, bundled once with esbuild like the kill trials' worker, or the built CLI's
// `leasehold serve`) on fixed loopback ports, reads what they say with the time each line
// arrived, signals them, and waits for what they say next — every wait a bounded poll, never a
// sleep for an expiry. A CLI daemon says only `listening … (standby …)`: when it took over is
// read from its /healthz, polled every 10 ms, and noted as a `leading` line.
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { NodeConfig } from './failover-node.js';
import { postgresUrlFromEnv } from './postgres-kind.js';

const ROOT = join(import.meta.dirname, '..', '..');
const NODE = join(import.meta.dirname, 'failover-node.ts');
/** The built CLI (`npm run build`). */
export const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');

let command = ['--import', 'tsx', NODE];
const BUNDLE = join(ROOT, 'node_modules', '.cache', 'leasehold-reliability', `failover-node-${process.pid}.mjs`);

/** Bundles the node script (a third of tsx's start-up cost), or keeps tsx when esbuild is missing. */
export async function bundleNode(): Promise<void> {
  try {
    const esbuild = await import('esbuild');
    await esbuild.build({ entryPoints: [NODE], bundle: true, packages: 'external', platform: 'node', format: 'esm', target: 'node20', outfile: BUNDLE, logLevel: 'error' });
    command = [BUNDLE];
  } catch {
    // tsx it is
  }
}

export const removeBundle = () => rmSync(BUNDLE, { force: true });

export interface Line {
  at: number;
  text: string;
}

export interface Node {
  config: NodeConfig;
  url: string;
  child: ChildProcess;
  /** Every stdout line with Date.now() when it arrived. */
  lines: Line[];
  stderr: () => string;
  /** When the node said `leading` (undefined until then). */
  leadingAt(): number | undefined;
  alive(): boolean;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const all = new Set<Node>();

/** Starts a node; resolves once it said its first line (`standby`). */
export async function startNode(config: NodeConfig, timeoutMs = 20_000): Promise<Node> {
  const args = config.cli
    ? [CLI, '--store', `${postgresUrlFromEnv()}#${config.schema}`, '--state-dir', config.cli.stateDir, 'serve', '--port', String(config.port), '--ownership-ttl', String(config.ownershipTtlMs)]
    : [...command, JSON.stringify(config)];
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LEASEHOLD_ADMIN_TOKEN: config.adminToken } });
  const lines: Line[] = [];
  let partial = '';
  let err = '';
  let exitedWith: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  child.stdout!.on('data', (chunk: Buffer) => {
    const at = Date.now();
    const parts = (partial + chunk.toString()).split('\n');
    partial = parts.pop()!;
    for (const text of parts) lines.push({ at, text: config.cli ? cliLine(text) : text });
  });
  child.stderr!.on('data', (chunk: Buffer) => void (err += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve((exitedWith = { code, signal }))),
  );
  const node: Node = {
    config,
    url: `http://127.0.0.1:${config.port}`,
    child,
    lines,
    stderr: () => err,
    leadingAt: () => lines.find((l) => l.text.startsWith('leading'))?.at,
    alive: () => exitedWith === undefined,
    exited,
  };
  all.add(node);
  void exited.then(() => all.delete(node));
  await waitFor(() => lines.length > 0 || !node.alive(), timeoutMs, `${config.name} to start`);
  if (!node.alive()) throw new Error(`${config.name} ended at start: ${err}`);
  if (config.cli && node.leadingAt() === undefined) void watchForLead(node);
  return node;
}

/** A CLI daemon's first line in the node script's words. */
const cliLine = (text: string) => (!text.startsWith('leasehold listening on') ? text : text.includes('(standby') ? 'standby' : `leading ${text.split(' ')[3]}`);

/** Polls a CLI standby's /healthz until it leads (noted as a `leading` line) or exits. */
async function watchForLead(node: Node): Promise<void> {
  for (const deadline = Date.now() + 120_000; node.alive() && Date.now() < deadline; ) {
    try {
      const response = await fetch(`${node.url}/healthz`, { signal: AbortSignal.timeout(1_000) });
      const body = (await response.json()) as { ok?: boolean; role?: string };
      if (response.ok && body.ok === true && body.role === undefined) {
        node.lines.push({ at: Date.now(), text: `leading ${node.url}` });
        return;
      }
    } catch {
      // stopped (SIGSTOP) or going away: try again
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Polls `done` every 10 ms until it holds; fails after `timeoutMs` naming `what`. */
export async function waitFor(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting ${timeoutMs} ms for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Ends a node: SIGTERM (a clean close), SIGKILL if it has not exited within `graceMs`. */
export async function stopNode(node: Node, graceMs = 5_000): Promise<void> {
  if (!node.alive()) return;
  node.child.kill('SIGTERM');
  const timer = setTimeout(() => node.child.kill('SIGKILL'), graceMs);
  await node.exited;
  clearTimeout(timer);
}

/** Kills every node still running (after a failed trial); a stopped one is continued first. */
export async function killAll(): Promise<void> {
  const running = [...all];
  for (const node of running) {
    node.child.kill('SIGCONT');
    node.child.kill('SIGKILL');
  }
  await Promise.all(running.map((node) => node.exited));
}

/**
 * Whether the node at `url` stops serving within `timeoutMs`: its /healthz answers 503 (its
 * supervisor closed) or its port refuses connections. Polled; an answer that is slow to come
 * (a process still catching up) counts as serving.
 */
export async function stopsServing(url: string, timeoutMs: number): Promise<boolean> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; ) {
    try {
      const response = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(500) });
      await response.body?.cancel();
      if (response.status === 503) return true;
    } catch (error) {
      if ((error as Error).name !== 'TimeoutError' && (error as Error).name !== 'AbortError') return true;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return false;
}
