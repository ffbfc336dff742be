// Where a command reaches the tasks: a daemon's HTTP API through the typed client
// (leasehold/client), or the store itself. A command that changes tasks goes through a daemon
// when one serves the store — found from `<store>.daemon.json` (its url and admin token) once
// it proves to be that store's running daemon, or named with `--url` / LEASEHOLD_URL and
// LEASEHOLD_TOKEN — and otherwise through a supervisor of its own (supervised.ts), which takes
// the store's lock. A daemon file left by a daemon that died is stale: the command falls back
// to the store (whose lock, left by a dead process, does not block). Reading commands read the
// files (reading.ts), or the API when a url is given without a store.
import { connect, type Client } from '../client/index.js';
import { InvalidInputError, type Supervisor } from '../index.js';
import { daemonFileOf, readDaemonFile, type DaemonInfo } from '../server/daemon-file.js';
import { sideStem } from './store-target.js';
import { withSupervisor } from './supervised.js';

/**
 * What the writing commands call: the supervisor's methods as the client has them, `owner`
 * optional (left out only with LEASEHOLD_TOKEN set: through a daemon the token's agent).
 */
export type Writer = Pick<
  Client,
  'create' | 'claim' | 'claimNext' | 'heartbeat' | 'extend' | 'addCompensation' | 'complete' | 'fail' | 'release' | 'quarantine' | 'annotate'
>;

/**
 * The supervisor as a Writer. The supervisor validates every input as it does for any caller:
 * an owner left out (possible only with LEASEHOLD_TOKEN set and no daemon) is its INVALID_INPUT.
 */
const asWriter = (sup: Supervisor) => sup as unknown as Writer;

/** The global options a command is reached with. */
export interface Reach {
  store: string;
  stateDir: string;
  /** `--store` was given (not the default). */
  storeGiven: boolean;
  wait: number;
  /** `--url`, or LEASEHOLD_URL. */
  url?: string;
  /** LEASEHOLD_TOKEN. */
  token?: string;
}

/** How long finding out whether a daemon answers may take: it is on this machine. */
const PROBE_MS = 2_000;

/** Whether a daemon answers `/healthz` at `url` (one left by a process that died does not). */
export async function answers(url: string): Promise<boolean> {
  try {
    return (await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(PROBE_MS) })).ok;
  } catch {
    return false;
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists, only not ours to signal.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * The daemon serving `store`, from its daemon file, when it is running: its process is alive,
 * it answers `/healthz`, and the server at its url accepts the file's admin token as the admin
 * (a daemon of another store on a reused port does not). Undefined otherwise: a stale file.
 */
export async function runningDaemon(store: string, stateDir: string): Promise<DaemonInfo | undefined> {
  const daemon = readDaemonFile(daemonFileOf(sideStem(store, stateDir)));
  if (!daemon || !alive(daemon.pid) || !(await answers(daemon.url))) return undefined;
  const client = connect({ url: daemon.url, token: daemon.adminToken, timeoutMs: PROBE_MS, logger: { warn: () => {} } });
  try {
    return (await client.whoami()).role === 'admin' ? daemon : undefined;
  } catch {
    return undefined;
  } finally {
    await client.close();
  }
}

/** A client on `url` with `token`; a url without a token is a usage error. */
function clientOf(url: string, token: string | undefined): Client {
  if (token === undefined || token === '') {
    throw new InvalidInputError('options', ['LEASEHOLD_TOKEN: required with --url / LEASEHOLD_URL (an agent token acts as its owner; the admin token needs --owner)']);
  }
  return connect({ url, token, logger: { warn: () => {} } });
}

export async function using<T>(client: Client, use: (client: Client) => Promise<T>): Promise<T> {
  try {
    return await use(client);
  } finally {
    await client.close();
  }
}

/**
 * Runs a writing command: through `--url` when given (a daemon that does not answer is
 * UNAVAILABLE, never a write around it), else through the daemon serving the store (as the
 * admin, or as LEASEHOLD_TOKEN's agent when set), else on the store under its lock.
 */
export async function withWriter<T>(reach: Reach, use: (writer: Writer) => Promise<T>): Promise<T> {
  if (reach.url !== undefined) return using(clientOf(reach.url, reach.token), use);
  const daemon = await runningDaemon(reach.store, reach.stateDir);
  if (daemon) return using(clientOf(daemon.url, reach.token || daemon.adminToken), use);
  return withSupervisor(reach.store, reach.wait, (sup) => use(asWriter(sup)));
}

/** The API client the reading commands use: only when a url is given and no `--store`. */
export function readingClient(reach: Reach): Client | undefined {
  return reach.url !== undefined && !reach.storeGiven ? clientOf(reach.url, reach.token) : undefined;
}
