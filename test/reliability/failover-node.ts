// One supervisor of the failover and pause trials, as its own process (run bundled, or as
// `node --import tsx test/reliability/failover-node.ts '<config json>'`): a supervisor on the
// trial's PostgreSQL store (short ownership TTL, the server's URL from the environment) served
// over HTTP on a fixed loopback port, so that a restarted node answers where its clients look.
// It says what it is on stdout, one line each, for the parent to time: `standby` while it waits
// to take the store over, `leading <url>` once it owns the store and serves, `closed <why>` when
// its supervisor closes itself (ownership lost). SIGTERM closes it cleanly (ownership released).
import { createSupervisor, postgresStore, type Supervisor } from '../../src/index.js';
import { serve, type Server } from '../../src/server/index.js';
import { postgresUrlFromEnv } from './postgres-kind.js';

export interface NodeConfig {
  name: string;
  schema: string;
  port: number;
  ownershipTtlMs: number;
  adminToken: string;
  /** Shared by the nodes of a trial: an agent's token works on whichever leads. */
  tokensFile: string;
}

const config = JSON.parse(process.argv[2] ?? '{}') as NodeConfig;
const url = `http://127.0.0.1:${config.port}`;
const say = (line: string) => process.stdout.write(`${line}\n`);
const warn = (message: string, ...details: unknown[]) => process.stderr.write(`${config.name} warn: ${message} ${details.map(String).join(' ')}\n`);

let sup: Supervisor | undefined;
let server: Server | undefined;

async function main() {
  const store = postgresStore({
    connectionString: postgresUrlFromEnv(),
    schema: config.schema,
    ownershipTtlMs: config.ownershipTtlMs,
    holder: config.name,
    advertisedUrl: url,
    // Without a standby mode, a node waits in open() until the store is free: it takes over
    // once the leader has not renewed for its TTL, and serves only then.
    lockWaitMs: 3_600_000,
  });
  say('standby');
  sup = await createSupervisor({
    store,
    schedule: false,
    logger: { warn },
    defaults: { graceMs: 100, maxAttempts: 5, maxStale: 5, retryBackoffMs: 10, maxRetryBackoffMs: 50 },
  });
  server = await serve(sup, { port: config.port, adminToken: config.adminToken, tokensFile: config.tokensFile, logger: { warn } });
  say(`leading ${server.url}`);
}

process.on('SIGTERM', () => {
  void (async () => {
    await server?.close().catch(() => {});
    await sup?.close().catch(() => {});
    process.exit(0);
  })();
});

main().catch((error: unknown) => {
  process.stderr.write(`${config.name}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(3);
});
