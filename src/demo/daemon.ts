// The orchestrator's side of the demo: a supervisor on .leasehold/demo.json, served on loopback
// by `serve()` (the story users copy: embed a supervisor, serve it to agents in other processes),
// torn down and reopened on the same file, port and admin token, and agent tokens minted through
// the server's own API (POST /v1/agents) with the admin token. The compensators run here.
import { readdirSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { createSupervisor, gitMergeConflictProbe, jsonFileStore, type Supervisor, type SupervisorOptions } from '../index.js';
import { serve, type Server } from '../server/index.js';
import { GRACE_MS, LEASE_MS, pause } from './timing.js';

export interface Daemon {
  sup: Supervisor;
  server: Server;
}

/** What the compensators undid, in order. */
export const undone: string[] = [];

const options: Omit<SupervisorOptions, 'store'> = {
  defaults: { leaseMs: LEASE_MS, graceMs: GRACE_MS, maxStale: 3, retryBackoffMs: 200, compensationBackoffMs: 100 },
  probes: [gitMergeConflictProbe({ extendMs: 1500, timeoutMs: 2000 })],
  compensators: {
    'delete-branch': async (args) => void undone.push(`deleted branch ${JSON.stringify(args)}`),
    'close-pr': async (args) => void undone.push(`closed PR ${JSON.stringify(args)}`),
  },
};

/**
 * A fresh store: the file and everything beside it named after it (journal, lock, tokens, daemon
 * file), which an interrupted run may have left.
 */
export function freshStore(file: string): void {
  for (const name of readdirSync(dirname(file))) {
    if (name.startsWith(basename(file))) rmSync(join(dirname(file), name), { force: true });
  }
}

/** Opens the supervisor on `file` and serves it on 127.0.0.1 (`port` 0: any free port; no admin token: a new one). */
export async function openDaemon(file: string, port: number, adminToken: string | undefined, onOpen: (sup: Supervisor) => void): Promise<Daemon> {
  const sup = await createSupervisor({ store: jsonFileStore(file), ...options });
  onOpen(sup);
  const server = await serve(sup, { host: '127.0.0.1', port, ...(adminToken && { adminToken }) });
  return { sup, server };
}

/**
 * Closes the server (calls in flight finish), then the supervisor, stays down for `downMs` (a
 * real restart takes a moment; agents calling meanwhile get UNAVAILABLE), and opens both again
 * on the same port with the same admin token (agent tokens are in the tokens file beside the store).
 */
export async function restartDaemon(daemon: Daemon, file: string, downMs: number, onOpen: (sup: Supervisor) => void): Promise<Daemon> {
  await closeDaemon(daemon);
  await pause(downMs);
  return openDaemon(file, Number(new URL(daemon.server.url).port), daemon.server.adminToken, onOpen);
}

export async function closeDaemon({ sup, server }: Daemon): Promise<void> {
  await server.close();
  await sup.close();
}

/** An agent token bound to `owner`, minted through the API with the admin token. */
export async function mintAgentToken({ server }: Daemon, owner: string): Promise<string> {
  const response = await fetch(`${server.url}/v1/agents`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ owner }),
  });
  if (response.status !== 201) throw new Error(`minting a token for ${owner}: HTTP ${response.status}`);
  return ((await response.json()) as { token: string }).token;
}
