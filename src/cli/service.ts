// The `leasehold` commands of the service: `serve` (a supervisor on the store plus the HTTP
// API, until SIGINT or SIGTERM) and `agent add` / `agent revoke` (agent tokens: through the
// daemon's API when a daemon serves the store, else directly on the tokens file, under its
// lock, which a running server re-reads, or on a PostgreSQL store's tokens table, which every
// daemon on it shares). Tokens are printed only by `agent add`, once.
import { existsSync, mkdirSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { errorFromBody, InvalidInputError, LeaseholdError, StoreLockedError } from '../errors.js';
import { daemonFileOf } from '../server/daemon-file.js';
import { serve } from '../server/index.js';
import { openPostgresTokens } from '../server/postgres-tokens.js';
import { createTokenRegistry, newToken, type TokenRegistry } from '../server/tokens.js';
import { examples, number, type GlobalOptions } from './arguments.js';
import { print } from './output.js';
import { runningDaemon } from './remote.js';
import { isPostgresUrl, postgresTarget, sideStem } from './store-target.js';
import { openSupervisor } from './supervised.js';

type Options = () => GlobalOptions;

export function addServiceCommands(cli: Command, opts: Options) {
  cli
    .command('serve')
    .description('serve the store over HTTP (API v1) until SIGINT/SIGTERM; prints one line when ready')
    .option('--host <host>', 'interface to bind (anything but loopback: terminate TLS in front)', '127.0.0.1')
    .addOption(new Option('--port <port>', 'port (0: any free port, printed)').argParser(number).default(7411))
    .option('--advertise-url <url>', 'PostgreSQL store: the URL clients reach this daemon at, which standbys send them to (default http://HOST:PORT)')
    .addOption(new Option('--ownership-ttl <ms>', 'PostgreSQL store: how long the leader may be silent before a standby takes over (default 10000)').argParser(number))
    .addHelpText(
      'after',
      `${examples(
        'leasehold serve --store .leasehold/store.json',
        'leasehold serve --port 0',
        'leasehold serve --store postgres://leasehold@db:5432/app#leasehold --host 10.0.0.5 --advertise-url http://10.0.0.5:7411',
      )}

The admin token is LEASEHOLD_ADMIN_TOKEN, or generated; it is written only to <store>.daemon.json
(mode 0600, removed on close), where \`leasehold agent add\` finds it.

On a PostgreSQL store every daemon is a candidate leader: the first one serves, the others are
standbys that answer every /v1 call 503 NOT_LEADER naming the leader's --advertise-url, and one
of them takes the store over once the leader is gone (released, or silent past the ownership
TTL). Give all of them the same LEASEHOLD_ADMIN_TOKEN. Agent and viewer tokens live in the
database (their SHA-256 hashes, in the schema's tokens table), shared by every daemon on the
store: mint once (through the leader, or \`leasehold agent add\` with no daemon running) and the token
works on each, revoke once and each refuses it (within a second). Each host's daemon file lives
in --state-dir (default .leasehold). A daemon that loses the store to another exits with code 8.`,
    )
    .action(async (o: { host: string; port: number; advertiseUrl?: string; ownershipTtl?: number }) => {
      const store = opts().store;
      const postgres = isPostgresUrl(store);
      const advertisedUrl = o.advertiseUrl ?? (o.port === 0 ? undefined : `http://${o.host.includes(':') ? `[${o.host}]` : o.host}:${o.port}`);
      if (postgres && advertisedUrl === undefined) throw new InvalidInputError('serve options', ['--advertise-url: required with --port 0 on a PostgreSQL store']);
      const stem = sideStem(store, opts().stateDir);
      if (postgres) mkdirSync(opts().stateDir, { recursive: true, mode: 0o700 });
      const serving = { advertisedUrl: advertisedUrl!, ...(o.ownershipTtl !== undefined && { ownershipTtlMs: o.ownershipTtl }) };
      const sup = await openSupervisor(store, opts().wait, postgres ? serving : undefined);
      let server;
      try {
        server = await serve(sup, {
          host: o.host,
          port: o.port,
          ...(postgres && { tokensTable: postgresTarget(store), daemonFile: daemonFileOf(stem) }),
          ...(process.env.LEASEHOLD_ADMIN_TOKEN && { adminToken: process.env.LEASEHOLD_ADMIN_TOKEN }),
        });
      } catch (error) {
        await sup.close();
        throw error;
      }
      const leader = sup.leader?.url;
      process.stdout.write(`leasehold listening on ${server.url}${sup.role === 'standby' ? ` (standby${leader ? `; the leader is ${leader}` : ''})` : ''}\n`);
      // Where an operator finds a token to sign in with, never the token itself (stderr: stdout stays one line).
      const tokenHome = process.env.LEASEHOLD_ADMIN_TOKEN ? 'LEASEHOLD_ADMIN_TOKEN' : daemonFileOf(postgres ? stem : store);
      process.stderr.write(`dashboard: open ${server.url}/ and sign in with the admin token (in ${tokenHome}) or a viewer token (leasehold agent add NAME --viewer)\n`);
      const stopped = await new Promise<'signal' | 'lost'>((resolve) => {
        process.once('SIGINT', () => resolve('signal'));
        process.once('SIGTERM', () => resolve('signal'));
        // Only a supervisor that lost its store closes by itself.
        void sup.closed.then(() => resolve('lost'));
      });
      // The server first (no new calls; those in flight finish and are durable), then the supervisor.
      try {
        await server.close();
      } finally {
        await sup.close();
      }
      if (stopped === 'signal') return;
      // A standby that could not go on (a store it cannot open) says why; a leader lost the store.
      const failed = await sup.ready.then(() => undefined, (error: unknown) => error);
      if (failed instanceof LeaseholdError && failed.code !== 'SUPERVISOR_CLOSED') throw failed;
      throw new StoreLockedError(sup.location, 'ownership lost: another supervisor took the store over; this daemon stopped');
    });

  const agent = cli.command('agent').description("manage agents' bearer tokens for a daemon serving the store");
  agent
    .command('add')
    .description('mint a token for agent NAME (or a read-only viewer); printed once, only its hash is kept')
    .argument('<name>', 'the owner the token acts as')
    .option('--viewer', 'a read-only token (dashboards)', false)
    .addHelpText('after', examples('leasehold agent add agent-7', 'leasehold --json agent add dashboard --viewer'))
    .action(async (name: string, o: { viewer: boolean }) => {
      const role = o.viewer ? 'viewer' : 'agent';
      const minted = await onTokens(opts(), {
        api: { method: 'POST', path: '/v1/agents', body: { owner: name, role } },
        local: (tokens) => tokens.mint(name, role),
      });
      print(minted, opts().json, () => minted.token);
    });
  agent
    .command('revoke')
    .description('revoke every live token of agent NAME')
    .argument('<name>', 'the owner')
    .addHelpText('after', examples('leasehold agent revoke agent-7'))
    .action(async (name: string) => {
      const revoked = await onTokens(opts(), {
        api: { method: 'DELETE', path: `/v1/agents/${encodeURIComponent(name)}` },
        local: (tokens) => tokens.revoke(name),
      });
      print(revoked, opts().json, () => `revoked ${revoked.revoked} token${revoked.revoked === 1 ? '' : 's'} of ${name}`);
    });
}

interface TokenCall<T> {
  api: { method: string; path: string; body?: unknown };
  local: (tokens: TokenRegistry) => Promise<T>;
}

/** Through the daemon serving `store` when there is one that answers, else on the tokens file or table. */
async function onTokens<T>({ store, stateDir }: GlobalOptions, call: TokenCall<T>): Promise<T> {
  const daemon = await runningDaemon(store, stateDir);
  if (daemon) {
    const response = await fetch(`${daemon.url}${call.api.path}`, {
      method: call.api.method,
      headers: { authorization: `Bearer ${daemon.adminToken}`, ...(call.api.body !== undefined && { 'content-type': 'application/json' }) },
      ...(call.api.body !== undefined && { body: JSON.stringify(call.api.body) }),
      signal: AbortSignal.timeout(30_000),
    });
    const body = (await response.json().catch(() => undefined)) as unknown;
    if (!response.ok) throw errorFromBody(response.status, body);
    return body as T;
  }
  // The admin token is not needed to change the tokens: this registry only mints and revokes.
  if (isPostgresUrl(store)) {
    const tokens = await openPostgresTokens({ adminToken: newToken(), ...postgresTarget(store), refreshMs: 0 });
    try {
      return await call.local(tokens);
    } finally {
      await tokens.close();
    }
  }
  if (!existsSync(store)) throw new LeaseholdError('INVALID_INPUT', `no store at ${store} (give --store)`);
  return call.local(createTokenRegistry({ adminToken: newToken(), file: `${sideStem(store, stateDir)}.tokens.json` }));
}
