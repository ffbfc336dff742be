// Entry point of W4's daemon process (`node --import tsx bench/w4-server.ts JOB`): a supervisor
// on the default JSON store in JOB's directory with JOB's tasks created, served by `serve()` on
// 127.0.0.1, port 0, as `leasehold serve` would run it. Prints `{ url, adminToken }` as one JSON
// line on stdout once listening; closes the server, then the supervisor, when stdin ends.
import { serve } from '../src/server/index.js';
import type { W4ServerJob } from './daemon.js';
import { benchTasks, inChunks } from './tasks.js';
import { openSupervisor } from './variants.js';

const job = JSON.parse(process.argv[2] ?? '') as W4ServerJob;
const sup = await openSupervisor('leasehold-json', job.dir);
await inChunks(benchTasks(job.tasks), 1_000, (task) => sup.create(task));
const logger = { warn: (message: string) => process.stderr.write(`w4 server: ${message}\n`) };
const server = await serve(sup, { port: 0, tokensFile: false, daemonFile: false, logger });
process.stdout.write(`${JSON.stringify({ url: server.url, adminToken: server.adminToken })}\n`);

process.stdin.resume().on('end', () => {
  void (async () => {
    await server.close();
    await sup.close();
    process.exit(0);
  })();
});
