// The demo's agent processes, seen from the demo: each agent is a child `node --import tsx
// src/demo/agent.ts PART NAME [TASK]` with the daemon's URL and its own token in its env (never on the
// command line, never printed). Its action lines are narrated after its name; its `@signals`
// pace the story. Every child is killed when the demo ends, however it ends (an error, Ctrl-C).
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { GO, parseLine } from './channel.js';

export interface AgentProcess {
  name: string;
  /** Resolves when the agent has sent `@name` (rejects if it exits first). */
  signalled(name: string): Promise<void>;
  /** Tells the agent to start its behaviour. */
  go(): void;
  /** Resolves with the signal that ended it (`SIGKILL` for a crash), or null for a clean exit. */
  exited: Promise<NodeJS.Signals | null>;
}

const children = new Set<ChildProcess>();
const killAll = () => {
  for (const child of children) child.kill('SIGKILL');
};
process.on('exit', killAll);
for (const stop of ['SIGINT', 'SIGTERM'] as const) {
  process.once(stop, () => {
    killAll();
    process.exit(130);
  });
}

const agentScript = join(import.meta.dirname, 'agent.ts');
/** tsx's loader, resolved from here: the demo may run from any directory. */
const tsxLoader = import.meta.resolve('tsx');

/** Starts an agent process; `say` narrates its action lines. */
export function startAgent(name: string, args: string[], env: { url: string; token: string }, say: (line: string) => void): AgentProcess {
  const child = spawn(process.execPath, ['--import', tsxLoader, agentScript, ...args], {
    env: { ...process.env, LEASEHOLD_URL: env.url, LEASEHOLD_TOKEN: env.token },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.add(child);
  const seen = new Set<string>();
  const waiting = new Map<string, () => void>();
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const parsed = parseLine(line);
    if ('say' in parsed) return say(`${name} ${parsed.say}`);
    seen.add(parsed.signal);
    waiting.get(parsed.signal)?.();
  });
  createInterface({ input: child.stderr! }).on('line', (line) => console.error(`[${name}] ${line}`));
  const exited = once(child, 'exit').then(([code, signal]) => {
    children.delete(child);
    if (code !== 0 && signal === null) throw new Error(`agent ${name} exited with code ${code}`);
    return signal as NodeJS.Signals | null;
  });
  exited.catch(() => {}); // observed by whoever awaits it
  return {
    name,
    exited,
    go: () => void child.stdin!.write(`${GO}\n`),
    signalled: (signal) =>
      seen.has(signal)
        ? Promise.resolve()
        : Promise.race([
            new Promise<void>((resolve) => waiting.set(signal, resolve)),
            exited.then(() => {
              if (!seen.has(signal)) throw new Error(`agent ${name} ended before @${signal}`);
            }),
          ]),
  };
}
