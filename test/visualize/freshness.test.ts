// The committed diagrams are the machines as they are now: a machine change without
// `npm run visualize` fails here, and so does a README diagram that drifted.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { defaultGraph, readmeMermaid, visualizationFiles } from '../../src/visualize/files.js';
import { toMermaid } from '../../src/visualize/mermaid.js';

const root = join(import.meta.dirname, '..', '..');
const dir = join(root, 'visualizations');

test('visualizations/ holds exactly the diagrams generated from the machines', async () => {
  const files = await visualizationFiles();
  expect(Object.keys(files).sort()).toEqual(
    [
      'supervisor.dot',
      'supervisor.mmd',
      'supervisor.svg',
      'task-lifecycle.compact.dot',
      'task-lifecycle.compact.mmd',
      'task-lifecycle.compact.svg',
      'task-lifecycle.dot',
      'task-lifecycle.mmd',
      'task-lifecycle.svg',
    ],
  );
  expect(readdirSync(dir).sort()).toEqual([...Object.keys(files), 'README.md'].sort());
  for (const [name, contents] of Object.entries(files)) {
    expect(readFileSync(join(dir, name), 'utf8'), `visualizations/${name} is out of date: run npm run visualize`).toBe(contents);
  }
});

test("the README's lifecycle diagram is the generated Mermaid of the user view, and it links both SVGs", () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  expect(readmeMermaid(readme), 'README.md lifecycle block is out of date: run npm run visualize').toBe(toMermaid(defaultGraph('task')));
  expect(readme).toContain('](visualizations/task-lifecycle.svg)');
  expect(readme).toContain('](visualizations/task-lifecycle.compact.svg)');
});
