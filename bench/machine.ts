// What the numbers were measured on: CPUs, memory, the disk holding the scratch directories
// (with a quick fsync latency probe, which bounds every durable variant) and Node.
import { execFileSync } from 'node:child_process';
import { closeSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import { availableParallelism, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { percentile } from './stats.js';
import { removeDir, scratchDir } from './tasks.js';

export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  virtualised: boolean;
  memoryGiB: number;
  disk: string;
  fsyncP50Ms: number;
  os: string;
  node: string;
}

const cpuinfo = () => {
  try {
    return readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return '';
  }
};

function diskOf(dir: string): string {
  try {
    const device = execFileSync('df', ['--output=source', dir], { encoding: 'utf8' }).trim().split('\n').at(-1)!.trim();
    const name = device.replace(/^\/dev\//, '');
    const kind = name.startsWith('vd') ? 'virtio block device' : name.startsWith('nvme') ? 'NVMe' : 'block device';
    const rotational = readFileSync(`/sys/block/${name.replace(/p?\d+$/, '')}/queue/rotational`, 'utf8').trim();
    return `${device} (${kind}, reports rotational=${rotational})`;
  } catch {
    return 'unknown';
  }
}

/** Median time of a 4 KiB write + fsync, 200 times, in the scratch directory's file system. */
function fsyncLatency(): number {
  const dir = scratchDir('fsync');
  const fd = openSync(join(dir, 'probe'), 'w');
  const block = Buffer.alloc(4096, 1);
  const samples: number[] = [];
  try {
    for (let i = 0; i < 200; i++) {
      const started = performance.now();
      writeSync(fd, block);
      fsyncSync(fd);
      samples.push(performance.now() - started);
    }
  } finally {
    closeSync(fd);
    removeDir(dir);
  }
  return percentile(samples, 50);
}

export function describeMachine(): MachineInfo {
  const info = cpuinfo();
  return {
    cpus: availableParallelism(),
    cpuModel: /^model name\s*:\s*(.*)$/m.exec(info)?.[1]?.trim() ?? 'unknown',
    virtualised: /^flags\s*:.*\bhypervisor\b/m.test(info),
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    disk: diskOf(tmpdir()),
    fsyncP50Ms: fsyncLatency(),
    os: `${process.platform} ${release()}`,
    node: process.version,
  };
}
