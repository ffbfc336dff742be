// One supervisor of the failover and pause trials, as its own process (run bundled, or as
// `node --import tsx test/reliability/failover-node.ts '<config json>'`): a supervisor on the
// trial's PostgreSQL store (short ownership TTL, the server's URL from the environment) served
// over HTTP on a fixed loopback port, so that a restarted node answers where its clients look.
// It says what it is on stdout, one line each, for the parent to time: `standby` once it serves
// as a standby (every call answered 503 NOT_LEADER naming the leader), `leading <url>` once it
// took the store over, `closed <why>` when its supervisor closed itself (ownership lost), after
// which it stops serving and exits, as a process manager would then restart it as a standby.
// SIGTERM closes it cleanly (ownership released).
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
  /**
   * Run the built CLI's `leasehold serve` instead of this script (failover-cluster.ts), with
   * this state dir (shared, so its tokens file is too): the product's daemon as it ships.
   */
  cli?: { stateDir: string };
}

const config = JSON.parse(process.argv[2] ?? '{}') as NodeConfig;
const url = `http://127.0.0.1:${config.port}`;
const say = (line: string) => process.stdout.write(`${line}\n`);
const warn = (message: string, ...details: unknown[]) => process.stderr.write(`${config.name} warn: ${message} ${details.map(String).join(' ')}\n`);

let sup: Supervisor | undefined;
let server: Server | undefined;

let stopping = false;

async function main() {
  const store = postgresStore({
    connectionString: postgresUrlFromEnv(),
    schema: config.schema,
    ownershipTtlMs: config.ownershipTtlMs,
    holder: config.name,
    advertisedUrl: url,
  });
  sup = await createSupervisor({
    store,
    standby: true,
    schedule: false,
    logger: { warn },
    defaults: { graceMs: 100, maxAttempts: 5, maxStale: 5, retryBackoffMs: 10, maxRetryBackoffMs: 50 },
  });
  server = await serve(sup, { port: config.port, adminToken: config.adminToken, tokensFile: config.tokensFile, logger: { warn } });
  say('standby');
  await sup.ready;
  say(`leading ${server.url}`);
  // A supervisor closes by itself only when it lost its ownership: then this node stops serving.
  void sup.closed.then(() => {
    if (stopping) return;
    say('closed ownership lost');
    void server?.close().finally(() => process.exit(0));
  });
}

process.on('SIGTERM', () => {
  stopping = true;
  void (async () => {
    await server?.close().catch(() => {});
    await sup?.close().catch(() => {});
    process.exit(0);
  })();
});

main().catch((error: unknown) => {
  if (stopping) return; // a standby stopped before it took over: its `ready` rejects
  process.stderr.write(`${config.name}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(3);
});
