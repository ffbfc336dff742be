// W4's daemon from the bench's side: starts bench/w4-server.ts in a child process (so that the
// server and the 64 clients do not share one event loop, as they would not in production),
// mints one agent token per owner through the API (`POST /v1/agents`, admin token), and stops
// the child by ending its stdin (it closes the server, then the supervisor).
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** What bench/w4-server.ts is given (JSON, its one argument). */
export interface W4ServerJob {
  tasks: number;
  dir: string;
}

export interface Daemon {
  url: string;
  /** One agent token per owner name. */
  mintTokens(owners: readonly string[]): Promise<Map<string, string>>;
  stop(): Promise<void>;
}

const root = fileURLToPath(new URL('..', import.meta.url));
const READY_TIMEOUT_MS = 5 * 60_000;

export async function startDaemon(job: W4ServerJob): Promise<Daemon> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/w4-server.ts', JSON.stringify(job)], {
    cwd: root,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const stop = async () => {
    child.stdin.end();
    const code = await exited;
    if (code !== 0) throw new Error(`W4 daemon exited with ${code}`);
  };
  const ready = await new Promise<{ url: string; adminToken: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('W4 daemon: not listening in time')), READY_TIMEOUT_MS);
    createInterface({ input: child.stdout }).once('line', (line) => {
      clearTimeout(timer);
      resolve(JSON.parse(line) as { url: string; adminToken: string });
    });
    void exited.then((code) => reject(new Error(`W4 daemon exited with ${code} before listening`)));
  }).catch(async (error: unknown) => {
    child.kill();
    await exited;
    throw error;
  });

  const mint = async (owner: string): Promise<[string, string]> => {
    const answer = await fetch(`${ready.url}/v1/agents`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ready.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ owner }),
    });
    if (answer.status !== 201) throw new Error(`W4: minting ${owner}'s token answered ${answer.status} ${await answer.text()}`);
    return [owner, ((await answer.json()) as { token: string }).token];
  };
  return { url: ready.url, mintTokens: async (owners) => new Map(await Promise.all(owners.map(mint))), stop };
}
