// Model-based verification: the paths generated from the task machine replay against the
// real runtime (JSON file, test clock, restart after every step), once in-process and once
// through the client and serve() on loopback (the same assertions: every acknowledgement and
// refusal, code and reason, as the model says); the supervisor machine's own paths run against
// real stores; and coverage of both machines is measured from the transitions the running
// actors took, per transport. Less than 100 % fails the run.
//
// LEASEHOLD_MODEL_TRANSPORT: `in-process`, `http`, or `both` (default). Over HTTP a
// deterministic sample runs by default (task-model.ts coveringSample: every path that takes a
// transition no earlier one took, and every HTTP_STRIDE-th path), so that every transition is
// still taken through the network; LEASEHOLD_MODEL_HTTP_PATHS=all runs every path over HTTP
// too (several minutes more: each restart is a new Fastify server, and each costs more).
//
// In the vitest project `postgres` (LEASEHOLD_TEST_STORE=postgres) the task paths replay on
// postgresStore instead, each in a fresh schema, in-process only, and the supervisor paths
// (whose store failures are the JSON file's) do not run: a sample again (coveringSample with
// POSTGRES_STRIDE), whose task-machine coverage must be 100 % too;
// LEASEHOLD_MODEL_POSTGRES_PATHS=all replays every path there.
import { getSimplePaths } from '@xstate/graph';
import { describe, expect, test } from 'vitest';
import type { InspectionEvent } from 'xstate';
import { supervisorMachine } from '../../machines/supervisor.machine.js';
import { taskMachine } from '../../machines/task.machine.js';
import { STORE_KIND } from '../support.js';
import { coverageOf } from './coverage.js';
import { runSupervisorPath, supervisorEvents } from './supervisor-model.js';
import { describeStep, replayPath } from './replay.js';
import { coveringSample, generatePaths, withoutInit } from './task-model.js';
import { TRANSPORTS, type Transport } from './transports.js';

const ON_POSTGRES = STORE_KIND === 'postgres';
const storeKind = ON_POSTGRES ? 'postgres' : 'json';
const chosen = ON_POSTGRES ? 'in-process' : (process.env.LEASEHOLD_MODEL_TRANSPORT ?? 'both');
if (!['in-process', 'http', 'both'].includes(chosen)) throw new Error(`LEASEHOLD_MODEL_TRANSPORT must be in-process, http or both, got ${chosen}`);
const transports = TRANSPORTS.filter((t) => chosen === 'both' || (chosen === 'http') === (t === 'over HTTP'));

const coverage = new Map(transports.map((t) => [t, { task: coverageOf(taskMachine), supervisor: coverageOf(supervisorMachine) }]));
const inspectFor = (transport: Transport) => (event: InspectionEvent) => {
  coverage.get(transport)!.task.observe(event);
  coverage.get(transport)!.supervisor.observe(event);
};

const taskPaths = (['plain', 'probed'] as const).flatMap((variant) => generatePaths(variant).map((path) => ({ variant, path })));
const supervisorPaths = getSimplePaths(supervisorMachine, { events: supervisorEvents as never }).map(withoutInit);
const HTTP_STRIDE = 10;
const POSTGRES_STRIDE = 10;
const sampled = (variable: string, stride: number) => (process.env[variable] === 'all' ? new Set(taskPaths.keys()) : coveringSample(taskPaths, stride));
const overHttp = sampled('LEASEHOLD_MODEL_HTTP_PATHS', HTTP_STRIDE);
/** The paths a transport replays on this project's store (every path in-process on the JSON file). */
const onPostgres = ON_POSTGRES ? sampled('LEASEHOLD_MODEL_POSTGRES_PATHS', POSTGRES_STRIDE) : undefined;
const pathsOver = (transport: Transport) =>
  taskPaths
    .map((p, i) => ({ ...p, i }))
    .filter(({ i }) => (onPostgres ? onPostgres.has(i) : transport === 'in-process' || overHttp.has(i)));
const stepsOf = (paths: { path: { steps: unknown[] } }[]) => paths.reduce((n, p) => n + p.path.steps.length, 0);

describe.each(transports)(`task machine %s${ON_POSTGRES ? ' on postgresStore' : ''}`, (transport) => {
  const inspect = inspectFor(transport);
  const paths = pathsOver(transport);
  describe(`${paths.length} of ${taskPaths.length} generated paths replayed on the runtime, restarting after every step`, () => {
    test.each(paths.map(({ variant, path, i }) => [i + 1, variant, path.steps.map((s) => describeStep(s.event)).join(' → '), path] as const))(
      'path %i (%s): %s',
      async (_, variant, __, path) => replayPath(variant, path, inspect, transport, storeKind),
    );
  });
});

describe.skipIf(ON_POSTGRES)(`supervisor machine: ${supervisorPaths.length} generated paths run against real stores`, () => {
  // The supervisor's own paths have no calls to make over a network: they count towards the first transport.
  const inspect = inspectFor(transports[0]!);
  test.each(supervisorPaths.map((path, i) => [i + 1, path.steps.map((s) => s.event.type).join(' → ') || '(start)', path] as const))(
    'path %i: %s',
    async (_, __, path) => runSupervisorPath(path, inspect),
  );
});

const withSupervisor = (transport: Transport) => !ON_POSTGRES && transport === transports[0];
test.each(transports)(`every state and every transition of the task machine was exercised %s${ON_POSTGRES ? ' on postgresStore' : ' (and of the supervisor machine)'}`, (transport) => {
  const { task, supervisor } = coverage.get(transport)!;
  const lines = [
    `model paths ${transport} on ${storeKind}: ${pathsOver(transport).length} of ${taskPaths.length} task paths (${stepsOf(pathsOver(transport))} steps, each followed by a restart)${ON_POSTGRES ? '' : `, ${supervisorPaths.length} supervisor`}`,
    task.line('task machine'),
    ...(withSupervisor(transport) ? [supervisor.line('supervisor machine')] : []),
  ];
  console.log(lines.join('\n'));
  expect(task.missing()).toEqual({ states: [], edges: [] });
  if (withSupervisor(transport)) expect(supervisor.missing()).toEqual({ states: [], edges: [] });
});
