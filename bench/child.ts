// Entry point of the child processes that W2, W3 and W6 run in (`node --expose-gc --import tsx
// bench/child.ts JOB`), so that memory and timer lag are measured in a fresh process. Runs
// one job and prints its metrics as JSON on the last line of stdout.
import { createLeased, reopenLeased, w2Create, w2Reopen } from './w2-scale.js';
import { openPostgresSupervisor } from './variants.js';
import { w3Expiries } from './w3-timers.js';
import type { ChildJob } from './spawn.js';

const job = JSON.parse(process.argv[2] ?? '') as ChildJob;
const run = () => {
  switch (job.workload) {
    case 'w2-create':
      return w2Create(job.variant, job.tasks, job.dir);
    case 'w2-reopen':
      return w2Reopen(job.variant, job.tasks, job.dir);
    case 'w3':
      return w3Expiries(job.variant, job.leases, job.minLeaseMs, job.maxLeaseMs, job.dir);
    case 'w6-create':
      return createLeased(() => openPostgresSupervisor(job.url, job.schema), job.tasks);
    case 'w6-reopen':
      return reopenLeased(() => openPostgresSupervisor(job.url, job.schema), job.tasks);
  }
};
const metrics = await run();
process.stdout.write(`\n${JSON.stringify(metrics)}\n`);
// Nothing may keep a finished child alive (a stray timer would only hide a leak).
process.exit(0);
