// The browser the dashboard tests drive: Debian's `chromium`, never a downloaded one. As the
// dashboard project's vitest globalSetup it installs the package when it is missing (as root,
// or through `sudo -n`), so `npm ci && npm test` passes on a fresh Debian machine.
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Where Debian's package puts it. */
export const DEBIAN_CHROMIUM = '/usr/bin/chromium';

/** Bounds for the install: a slow mirror fails the setup with a message instead of hanging the run. */
const UPDATE_TIMEOUT_MS = 5 * 60_000;
const INSTALL_TIMEOUT_MS = 10 * 60_000;

const HOW_TO_INSTALL =
  "The dashboard tests drive Debian's chromium through playwright-core (no browser is ever downloaded). " +
  'Install it with `sudo apt-get install -y --no-install-recommends chromium`, ' +
  'or set LEASEHOLD_CHROMIUM to the path of a Chromium or Chrome binary.';

const isExecutable = (path: string) => {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

/** The Chromium to launch (LEASEHOLD_CHROMIUM, else Debian's), or undefined when there is none. */
export function findChromium(): string | undefined {
  const given = process.env.LEASEHOLD_CHROMIUM;
  if (given) return isExecutable(given) ? given : undefined;
  return isExecutable(DEBIAN_CHROMIUM) ? DEBIAN_CHROMIUM : undefined;
}

/** How to run apt-get here: directly as root, through a sudo that asks for no password, or not at all. */
async function aptPrefix(): Promise<string[] | undefined> {
  if (process.getuid?.() === 0) return [];
  try {
    await run('sudo', ['-n', 'true'], { timeout: 10_000 });
    return ['sudo', '-n'];
  } catch {
    return undefined;
  }
}

async function apt(prefix: string[], args: string[], timeout: number): Promise<void> {
  // A lock held by another apt (unattended upgrades) is waited for, within the same bound.
  const lockWait = ['-o', `DPkg::Lock::Timeout=${Math.floor(timeout / 2000)}`];
  const [command, ...rest] = [...prefix, 'env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', ...lockWait, ...args];
  try {
    await run(command!, rest, { timeout, maxBuffer: 64 * 1024 * 1024 });
  } catch (error) {
    const { stderr, killed, message } = error as { stderr?: string; killed?: boolean; message: string };
    const why = killed ? `timed out after ${timeout / 1000} s` : (stderr?.trim().split('\n').slice(-5).join('\n') ?? message);
    throw new Error(`\`apt-get ${args.join(' ')}\` failed: ${why}\n${HOW_TO_INSTALL}`);
  }
}

/** The Chromium to launch, installing Debian's package first when there is none and apt can. */
export async function ensureChromium(log: (line: string) => void = (line) => console.log(line)): Promise<string> {
  const found = findChromium();
  if (found) return found;
  if (process.env.LEASEHOLD_CHROMIUM) {
    throw new Error(`LEASEHOLD_CHROMIUM=${process.env.LEASEHOLD_CHROMIUM} is not an executable file.\n${HOW_TO_INSTALL}`);
  }
  const prefix = await aptPrefix();
  if (!prefix) throw new Error(`${DEBIAN_CHROMIUM} is missing and this user can run apt-get neither as root nor through \`sudo -n\`.\n${HOW_TO_INSTALL}`);
  try {
    await run('apt-get', ['--version'], { timeout: 10_000 });
  } catch {
    throw new Error(`${DEBIAN_CHROMIUM} is missing and there is no apt-get here to install it.\n${HOW_TO_INSTALL}`);
  }
  log(`dashboard tests: ${DEBIAN_CHROMIUM} is missing; installing Debian's chromium (apt-get, up to ${(UPDATE_TIMEOUT_MS + INSTALL_TIMEOUT_MS) / 60_000} min)…`);
  await apt(prefix, ['update'], UPDATE_TIMEOUT_MS);
  await apt(prefix, ['install', '-y', '--no-install-recommends', 'chromium'], INSTALL_TIMEOUT_MS);
  const installed = findChromium();
  if (!installed) throw new Error(`apt-get installed chromium, yet ${DEBIAN_CHROMIUM} is not there.\n${HOW_TO_INSTALL}`);
  log(`dashboard tests: installed ${installed}`);
  return installed;
}

/** vitest globalSetup of the dashboard project: runs once, before its first test file. */
export default async function setup(): Promise<void> {
  await ensureChromium();
}
