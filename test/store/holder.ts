// Another process that holds a JSON store: it opens the store and keeps it until its stdin ends
// (a clean close) or it is killed. Children are tracked so each test can kill what it left.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const storeModule = fileURLToPath(new URL('../../src/store/json-file-store.ts', import.meta.url));

export function createHolders() {
  const children: ChildProcess[] = [];
  return {
    /** Resolves once the other process holds the store at `path`. */
    async hold(path: string): Promise<ChildProcess> {
      const code = `
        const { jsonFileStore } = await import(${JSON.stringify(storeModule)});
        const store = jsonFileStore(${JSON.stringify(path)});
        await store.open();
        process.stdout.write('ready\\n');
        process.stdin.resume();
        process.stdin.on('end', async () => { await store.close(); process.exit(0); });
      `;
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: repoRoot, stdio: ['pipe', 'pipe', 'inherit'] });
      children.push(child);
      const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
      const [line] = (await Promise.race([once(lines, 'line'), once(child, 'exit').then(() => ['exited'])])) as string[];
      if (line !== 'ready') throw new Error(`holder process did not start: ${line}`);
      return child;
    },
    /** Kills every holder still running. */
    async killAll(): Promise<void> {
      for (const child of children.splice(0)) {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGKILL');
          await once(child, 'exit');
        }
      }
    },
  };
}
