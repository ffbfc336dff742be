// leasehold/server: `serve(sup, options)` puts the HTTP API v1 (and MCP at /mcp) in front of any supervisor —
// the tokens (tokens.ts), the Fastify app (app.ts), the daemon file (daemon-file.ts) — and
// `close()` takes it down again: no new calls, in-flight ones finish (durable when answered),
// the daemon file goes. The supervisor stays open: its caller owns it.
import { z } from 'zod';
import { InvalidInputError } from '../errors.js';
import type { Logger } from '../logger.js';
import { parse } from '../supervisor/inputs.js';
import type { Supervisor } from '../supervisor/options.js';
import { buildApp } from './app.js';
import { defaultDashboardDir } from './dashboard.js';
import { daemonFileOf, removeDaemonFile, writeDaemonFile } from './daemon-file.js';
import { openPostgresTokens } from './postgres-tokens.js';
import { createTokenRegistry, newToken, type TokenRegistry } from './tokens.js';

export interface ServeOptions {
  /** Default 127.0.0.1. Anything but loopback is logged with a warning: terminate TLS in front. */
  host?: string;
  /** Default 7411; 0 picks a free port (see `url`). */
  port?: number;
  /** Default: generated (32 random bytes, base64url). */
  adminToken?: string;
  /** Default `<store>.tokens.json` beside a store file, in memory for any other store; false: in memory. */
  tokensFile?: string | false;
  /**
   * A PostgreSQL store's shared tokens: the hashes in `<schema>.tokens`, which every daemon on
   * that store reads and writes (postgres-tokens.ts), instead of a tokens file. Not with `tokensFile`.
   */
  tokensTable?: { connectionString: string; schema?: string };
  /** Default `<store>.daemon.json` beside a store file, none for any other store; false: none. */
  daemonFile?: string | false;
  /** Default 1 MiB; a larger body is 413 PAYLOAD_TOO_LARGE. */
  bodyLimitBytes?: number;
  /** Default 30 s. */
  requestTimeoutMs?: number;
  /** Lifecycle events kept for `Last-Event-ID` resumes (default 10,000). */
  eventBuffer?: number;
  /**
   * Default true: every MCP tool call of an agent first renews every live lease it holds
   * (`sup.touch(owner)`: any sign of life counts); a failed renewal is logged, the call goes on.
   */
  mcpTouch?: boolean;
  /** Default console. Never given a token. */
  logger?: Logger;
  /**
   * Default true: the dashboard at `/` (static files from the package's dist/dashboard/, built by
   * `npm run build`; 503 until built). `{ dir }` serves another build folder; false: none.
   */
  dashboard?: boolean | { dir: string };
}

export interface Server {
  /** `http://HOST:PORT`, with the real port. */
  url: string;
  adminToken: string;
  close(): Promise<void>;
}

const DEFAULT_PORT = 7411;

const serveOptions = z.strictObject({
  host: z.string().min(1).optional(),
  port: z.number().int().min(0).max(65_535).optional(),
  adminToken: z.string().min(16, 'must be at least 16 characters').regex(/^\S+$/, 'must not contain whitespace').optional(),
  tokensFile: z.union([z.string().min(1), z.literal(false)]).optional(),
  tokensTable: z.strictObject({ connectionString: z.string().min(1), schema: z.string().min(1).optional() }).optional(),
  daemonFile: z.union([z.string().min(1), z.literal(false)]).optional(),
  bodyLimitBytes: z.number().int().min(1).optional(),
  requestTimeoutMs: z.number().int().min(0).optional(),
  eventBuffer: z.number().int().min(0).optional(),
  mcpTouch: z.boolean().optional(),
  dashboard: z.union([z.boolean(), z.strictObject({ dir: z.string().min(1) })]).optional(),
  logger: z.custom<Logger>((value) => typeof (value as Logger | undefined)?.warn === 'function', 'expected { warn(message) }').optional(),
});

/** A store that is a file (not `memory`, not a `scheme://` connection). */
const isFileLocation = (location: string) => location !== 'memory' && !/^[a-z][a-z0-9+.-]*:\/\//i.test(location);
const isLoopback = (host: string) => host === 'localhost' || host === '::1' || /^127\./.test(host);

export async function serve(sup: Supervisor, options: ServeOptions = {}): Promise<Server> {
  const given = parse(serveOptions, options, 'serve options');
  if (given.tokensTable && given.tokensFile !== undefined) throw new InvalidInputError('serve options', ['tokensTable: not with tokensFile']);
  const logger = given.logger ?? console;
  const host = given.host ?? '127.0.0.1';
  const storeFile = isFileLocation(sup.location) ? sup.location : undefined;
  const tokensFile = given.tokensFile === false ? undefined : (given.tokensFile ?? (storeFile && `${storeFile}.tokens.json`));
  const daemonFile = given.daemonFile === false ? undefined : (given.daemonFile ?? (storeFile && daemonFileOf(storeFile)));
  const adminToken = given.adminToken ?? newToken();

  const tokens: TokenRegistry = given.tokensTable
    ? await openPostgresTokens({ adminToken, ...given.tokensTable, logger })
    : createTokenRegistry({ adminToken, ...(tokensFile && { file: tokensFile }) });
  const app = await buildApp({
    sup,
    tokens,
    bodyLimitBytes: given.bodyLimitBytes ?? 1024 * 1024,
    requestTimeoutMs: given.requestTimeoutMs ?? 30_000,
    eventBuffer: given.eventBuffer ?? 10_000,
    mcpTouch: given.mcpTouch ?? true,
    logger,
    dashboardDir: given.dashboard === false ? false : typeof given.dashboard === 'object' ? given.dashboard.dir : defaultDashboardDir(),
  });
  try {
    await app.listen({ host, port: given.port ?? DEFAULT_PORT });
  } catch (error) {
    await app.close();
    await tokens.close?.();
    const reason = (error as NodeJS.ErrnoException).code ?? (error instanceof Error ? error.message : String(error));
    throw new InvalidInputError('serve options', [`host/port: cannot listen on ${host}:${given.port ?? DEFAULT_PORT} (${reason})`]);
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : given.port ?? DEFAULT_PORT;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  if (!isLoopback(host)) {
    logger.warn(`leasehold: serving on ${host}, beyond loopback, in plain HTTP: bearer tokens cross the network in clear; terminate TLS in front (a reverse proxy)`);
  }
  try {
    if (daemonFile) await writeDaemonFile(daemonFile, { url, pid: process.pid, adminToken });
  } catch (error) {
    await app.close();
    await tokens.close?.();
    throw error;
  }

  let closing: Promise<void> | undefined;
  return {
    url,
    adminToken,
    close: () =>
      (closing ??= (async () => {
        try {
          await app.close();
        } finally {
          if (daemonFile) removeDaemonFile(daemonFile);
          await tokens.close?.();
        }
      })()),
  };
}
