// The chromium finder: LEASEHOLD_CHROMIUM wins over Debian's path, and a bad one fails with
// what to install instead of reaching for apt-get (the install itself runs only on a machine
// without chromium, in the project's globalSetup).
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { DEBIAN_CHROMIUM, ensureChromium, findChromium } from './chromium.js';

const given = process.env.LEASEHOLD_CHROMIUM;
afterEach(() => {
  if (given === undefined) delete process.env.LEASEHOLD_CHROMIUM;
  else process.env.LEASEHOLD_CHROMIUM = given;
});

describe('chromium for the dashboard tests', () => {
  it('uses LEASEHOLD_CHROMIUM when it names an executable, else Debian’s /usr/bin/chromium', async () => {
    process.env.LEASEHOLD_CHROMIUM = process.execPath;
    expect(findChromium()).toBe(process.execPath);
    expect(await ensureChromium()).toBe(process.execPath);
    delete process.env.LEASEHOLD_CHROMIUM;
    expect(findChromium()).toBe(existsSync(DEBIAN_CHROMIUM) ? DEBIAN_CHROMIUM : undefined);
  });

  it('fails with what to install when LEASEHOLD_CHROMIUM names no executable, and installs nothing', async () => {
    process.env.LEASEHOLD_CHROMIUM = '/nonexistent/chromium';
    const lines: string[] = [];
    await expect(ensureChromium((line) => lines.push(line))).rejects.toThrow(/LEASEHOLD_CHROMIUM=\/nonexistent\/chromium is not an executable file[\s\S]*apt-get install -y --no-install-recommends chromium/);
    expect(lines).toEqual([]);
  });
});
