// A throwaway local Redis for W4's BullMQ baseline: finds `redis-server` (the full bench may
// install Debian's package first: as root, with apt-get, time-bounded, its output on stderr),
// and starts one server per run on a free loopback port in a temp directory, append-only file
// on with the fsync policy asked for and RDB snapshots off, then stops it and removes its files.
import { spawn, spawnSync } from 'node:child_process';
import { Socket } from 'node:net';
import { freePort } from '../test/free-port.js';
import { removeDir, scratchDir } from './tasks.js';

export type Fsync = 'always' | 'everysec';

const INSTALL_TIMEOUT_MS = 5 * 60_000;

const onPath = (command: string) => spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;

/**
 * `undefined` when `redis-server` can be run, else why not. With `mayInstall`, a missing server is
 * installed from Debian's package when that is possible (root, apt-get on PATH).
 */
export function redisUnavailable(mayInstall: boolean, progress: (line: string) => void): string | undefined {
  if (onPath('redis-server')) return undefined;
  if (!mayInstall) return 'redis-server is not on PATH (this run installs nothing: the full `npm run bench` installs it, as root with apt-get)';
  if (process.getuid?.() !== 0) return 'redis-server is not on PATH and this is not root (install it: apt-get install redis-server)';
  if (!onPath('apt-get')) return 'redis-server is not on PATH and there is no apt-get to install it with';
  progress('  redis-server not found: apt-get install -y redis-server (output on stderr)');
  const aptGet = (...args: string[]) =>
    spawnSync('apt-get', args, { stdio: ['ignore', 2, 2], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, timeout: INSTALL_TIMEOUT_MS }).status === 0;
  const install = () => aptGet('install', '-y', '--no-install-recommends', 'redis-server') && onPath('redis-server');
  // A first failure may be stale package lists only: update them and try once more.
  if (install() || (aptGet('update') && install())) return undefined;
  return 'redis-server is not on PATH and apt-get install redis-server failed (see above)';
}

const answersPing = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('error', () => done(false));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
    socket.connect(port, '127.0.0.1', () => socket.write('PING\r\n'));
  });

export interface RedisServer {
  port: number;
  stop(): Promise<void>;
}

/** A fresh redis-server on 127.0.0.1, durable per `fsync`, empty; resolves once it answers PING. */
export async function startRedis(fsync: Fsync): Promise<RedisServer> {
  const dir = scratchDir('redis');
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', fsync, '--save', ''];
  const child = spawn('redis-server', [...args, '--daemonize', 'no', '--loglevel', 'warning'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
    removeDir(dir);
  };
  for (const started = Date.now(); !(await answersPing(port)); ) {
    if (child.exitCode !== null || Date.now() - started > 10_000) {
      await stop();
      throw new Error(`redis-server ${args.join(' ')} did not start`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return { port, stop };
}
