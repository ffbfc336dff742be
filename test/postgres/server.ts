// vitest globalSetup of the `postgres` project: one real PostgreSQL server (embedded.ts) for the
// whole run, its connection string provided to every test file (inject('postgresUrl')); each
// file works in schemas of its own. Durability is PostgreSQL's business, not what these tests
// check (they kill supervisors, not the database), so this server does not fsync.
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from './embedded.js';

declare module 'vitest' {
  export interface ProvidedContext {
    postgresUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const server = await startEmbeddedPostgres({ durable: false });
  project.provide('postgresUrl', server.url);
  return () => server.stop();
}
