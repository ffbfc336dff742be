// W4 service: W1's workload (tasks × claimNext → 3 heartbeats → complete, concurrent owners)
// reached the ways a service is: leasehold in-process (the reference, as W1's durable JSON
// store), leasehold over HTTP (a daemon in a child process, every owner an agent with its own
// token and its own keep-alive client), and BullMQ on a local Redis with the append-only file
// fsynced per write (`always`, durable per call like leasehold) and once a second (`everysec`,
// Redis' default policy). The variants alternate in one run; a BullMQ variant is skipped, with
// the reason, when there is no redis-server to run.
import { connect, type Client } from '../src/client/index.js';
import { alternate, type Variant } from './alternate.js';
import { startDaemon } from './daemon.js';
import { redisUnavailable, startRedis, type Fsync } from './redis.js';
import { benchTasks, removeDir, scratchDir, type BenchTask } from './tasks.js';
import type { ServiceKey } from './variants.js';
import { drive, leaseholdApi, runLeasehold, type W1Metrics } from './w1-throughput.js';

export interface W4Config {
  tasks: number;
  owners: number;
  repeats: number;
}


async function runHttp(config: W4Config): Promise<W1Metrics> {
  const dir = scratchDir('w4');
  const daemon = await startDaemon({ tasks: config.tasks, dir });
  const clients = new Map<string, Client>();
  try {
    const owners = Array.from({ length: config.owners }, (_, index) => `owner-${index}`);
    for (const [owner, token] of await daemon.mintTokens(owners)) clients.set(owner, connect({ url: daemon.url, token }));
    return await drive(leaseholdApi((owner) => clients.get(owner)!), config.owners, config.tasks);
  } finally {
    await Promise.all([...clients.values()].map((client) => client.close()));
    await daemon.stop();
    removeDir(dir);
  }
}

async function runOnRedis(fsync: Fsync, tasks: readonly BenchTask[], owners: number): Promise<W1Metrics> {
  const { runBullmq } = await import('./bullmq-baseline.js');
  const redis = await startRedis(fsync);
  try {
    return await runBullmq(redis.port, tasks, owners);
  } finally {
    await redis.stop();
  }
}

/** `mayInstall`: the full bench may install redis-server (see redis.ts); --quick never does. */
export async function runW4(config: W4Config, mayInstall: boolean, progress: (line: string) => void) {
  const tasks = benchTasks(config.tasks);
  // BullMQ needs a Redis client package (a devDependency) besides the server.
  const noClient = await import('ioredis').then(
    () => undefined,
    () => 'the ioredis package is not installed (a devDependency: npm ci installs it)',
  );
  const noRedis = noClient ?? redisUnavailable(mayInstall, progress);
  const skipped: { [variant: string]: string } = {};
  const variants: Variant<W1Metrics>[] = [
    { name: 'leasehold-json', run: () => runLeasehold('leasehold-json', tasks, config.owners) },
    { name: 'leasehold-http', run: () => runHttp(config) },
  ];
  for (const fsync of ['always', 'everysec'] as const) {
    const name: ServiceKey = `bullmq-${fsync}`;
    if (noRedis === undefined) variants.push({ name, run: () => runOnRedis(fsync, tasks, config.owners) });
    else skipped[name] = noRedis;
  }
  if (noRedis !== undefined) progress(`  BullMQ variants skipped: ${noRedis}`);
  return { results: await alternate(variants, config.repeats, progress), skipped };
}
