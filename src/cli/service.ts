// The `leasehold` commands of the service: `serve` (a supervisor on the store plus the HTTP
// API, until SIGINT or SIGTERM) and `agent add` / `agent revoke` (agent tokens: through the
// daemon's API when a daemon serves the store, else on the tokens file directly, under its
// lock, which a running server re-reads). Tokens are printed only by `agent add`, once.
import { existsSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { errorFromBody, LeaseholdError } from '../errors.js';
import { serve } from '../server/index.js';
import { readDaemonFile, daemonFileOf } from '../server/daemon-file.js';
import { createTokenRegistry, newToken } from '../server/tokens.js';
import { number } from './arguments.js';
import { examples, print } from './output.js';
import { openSupervisor } from './supervised.js';

type Options = () => { store: string; json: boolean; wait: number };

export function addServiceCommands(cli: Command, opts: Options) {
  cli
    .command('serve')
    .description('serve the store over HTTP (API v1) until SIGINT/SIGTERM; prints one line when ready')
    .option('--host <host>', 'interface to bind (anything but loopback: terminate TLS in front)', '127.0.0.1')
    .addOption(new Option('--port <port>', 'port (0: any free port, printed)').argParser(number).default(7411))
    .addHelpText(
      'after',
      `${examples('leasehold serve --store .leasehold/store.json', 'leasehold serve --port 0')}

The admin token is LEASEHOLD_ADMIN_TOKEN, or generated; it is written only to <store>.daemon.json
(mode 0600, removed on close), where \`leasehold agent add\` finds it.`,
    )
    .action(async (o: { host: string; port: number }) => {
      const sup = await openSupervisor(opts().store, opts().wait);
      let server;
      try {
        server = await serve(sup, { host: o.host, port: o.port, ...(process.env.LEASEHOLD_ADMIN_TOKEN && { adminToken: process.env.LEASEHOLD_ADMIN_TOKEN }) });
      } catch (error) {
        await sup.close();
        throw error;
      }
      process.stdout.write(`leasehold listening on ${server.url}\n`);
      await new Promise<NodeJS.Signals>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      // The server first (no new calls; those in flight finish and are durable), then the supervisor.
      try {
        await server.close();
      } finally {
        await sup.close();
      }
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
      const minted = await onTokens(opts().store, {
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
      const revoked = await onTokens(opts().store, {
        api: { method: 'DELETE', path: `/v1/agents/${encodeURIComponent(name)}` },
        local: (tokens) => tokens.revoke(name),
      });
      print(revoked, opts().json, () => `revoked ${revoked.revoked} token${revoked.revoked === 1 ? '' : 's'} of ${name}`);
    });
}

interface TokenCall<T> {
  api: { method: string; path: string; body?: unknown };
  local: (tokens: ReturnType<typeof createTokenRegistry>) => Promise<T>;
}

/** Through the daemon serving `store` when there is one that answers, else on the tokens file. */
async function onTokens<T>(store: string, call: TokenCall<T>): Promise<T> {
  const daemon = readDaemonFile(daemonFileOf(store));
  if (daemon && (await answers(daemon.url))) {
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
  if (!existsSync(store)) throw new LeaseholdError('INVALID_INPUT', `no store at ${store} (give --store)`);
  // The admin token is not needed to change the file: this registry only mints and revokes.
  return call.local(createTokenRegistry({ adminToken: newToken(), file: `${store}.tokens.json` }));
}

/** Whether a daemon answers at `url` (a daemon file left by a process that died does not). */
async function answers(url: string): Promise<boolean> {
  try {
    return (await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2_000) })).ok;
  } catch {
    return false;
  }
}
