// Model-based verification: the paths generated from the task machine replay against the
// real runtime (JSON file, test clock, restart after every step), the supervisor machine's
// own paths run against real stores, and coverage of both machines is measured from the
// transitions the running actors took. Less than 100 % fails the run.
import { getSimplePaths } from '@xstate/graph';
import { describe, expect, test } from 'vitest';
import type { InspectionEvent } from 'xstate';
import { supervisorMachine } from '../../machines/supervisor.machine.js';
import { taskMachine } from '../../machines/task.machine.js';
import { coverageOf } from './coverage.js';
import { runSupervisorPath, supervisorEvents } from './supervisor-model.js';
import { describeStep, replayPath } from './replay.js';
import { generatePaths, withoutInit } from './task-model.js';

const taskCoverage = coverageOf(taskMachine);
const supervisorCoverage = coverageOf(supervisorMachine);
const inspect = (event: InspectionEvent) => {
  taskCoverage.observe(event);
  supervisorCoverage.observe(event);
};

const taskPaths = (['plain', 'probed'] as const).flatMap((variant) => generatePaths(variant).map((path) => ({ variant, path })));
const supervisorPaths = getSimplePaths(supervisorMachine, { events: supervisorEvents as never }).map(withoutInit);

describe(`task machine: ${taskPaths.length} generated paths replayed on the runtime, restarting after every step`, () => {
  test.each(
    taskPaths.map(({ variant, path }, i) => [i + 1, variant, path.steps.map((s) => describeStep(s.event)).join(' → '), path] as const),
  )('path %i (%s): %s', async (_, variant, __, path) => replayPath(variant, path, inspect));
});

describe(`supervisor machine: ${supervisorPaths.length} generated paths run against real stores`, () => {
  test.each(supervisorPaths.map((path, i) => [i + 1, path.steps.map((s) => s.event.type).join(' → ') || '(start)', path] as const))(
    'path %i: %s',
    async (_, __, path) => runSupervisorPath(path, inspect),
  );
});

test('every state and every transition of both machines was exercised', () => {
  const lines = [
    `model paths: ${taskPaths.length} task (${taskPaths.reduce((n, p) => n + p.path.steps.length, 0)} steps, each followed by a restart), ${supervisorPaths.length} supervisor`,
    taskCoverage.line('task machine'),
    supervisorCoverage.line('supervisor machine'),
  ];
  console.log(lines.join('\n'));
  expect(taskCoverage.missing()).toEqual({ states: [], edges: [] });
  expect(supervisorCoverage.missing()).toEqual({ states: [], edges: [] });
});
