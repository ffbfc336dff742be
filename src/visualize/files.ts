// The committed diagrams: which files visualizations/ holds and their contents, generated
// from the machines, plus the README's task-lifecycle Mermaid block. `npm run visualize`
// writes them; a test regenerates them in memory and fails when the committed ones differ.
import { supervisorMachine } from '../../machines/supervisor.machine.js';
import { taskMachine } from '../../machines/task.machine.js';
import { toDot } from './dot.js';
import { machineGraph } from './graph.js';
import { toMermaid } from './mermaid.js';
import { renderSvg } from './svg.js';
import { userGraph, type Words } from './user.js';
import { taskWords } from './words.js';

export const MACHINES = { task: taskMachine, supervisor: supervisorMachine } as const;
export type MachineName = keyof typeof MACHINES;

/** File stem in visualizations/ per machine. */
export const FILE_STEMS: Record<MachineName, string> = { task: 'task-lifecycle', supervisor: 'supervisor' };

/** The API's words per machine, for its user view; a machine without them is drawn compact. */
export const WORDS: Partial<Record<MachineName, Words>> = { task: taskWords };

/** The default drawing of a machine: the user view where it has words, else the compact one. */
export function defaultGraph(name: MachineName) {
  const words = WORDS[name];
  return words ? userGraph(MACHINES[name], words) : machineGraph(MACHINES[name]);
}

/**
 * visualizations/<file> → contents, for every machine in Mermaid, DOT and SVG: the default
 * drawing as <stem>.{mmd,dot,svg}, and for a machine with a user view also the compact
 * detail as <stem>.compact.{mmd,dot,svg}.
 */
export async function visualizationFiles(): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const name of Object.keys(MACHINES) as MachineName[]) {
    const views: [string, ReturnType<typeof defaultGraph>][] = [[FILE_STEMS[name], defaultGraph(name)]];
    if (WORDS[name]) views.push([`${FILE_STEMS[name]}.compact`, machineGraph(MACHINES[name])]);
    for (const [stem, graph] of views) {
      const dot = toDot(graph);
      files[`${stem}.mmd`] = toMermaid(graph);
      files[`${stem}.dot`] = dot;
      files[`${stem}.svg`] = await renderSvg(dot);
    }
  }
  return files;
}

const README_BLOCK = /(## The task lifecycle\n[\s\S]*?```mermaid\n)([\s\S]*?)(```)/;

/** The Mermaid text inside the README's task-lifecycle block, or undefined without one. */
export function readmeMermaid(readme: string): string | undefined {
  return README_BLOCK.exec(readme)?.[2];
}

/** The README with its task-lifecycle Mermaid block replaced by `mermaid`. */
export function withReadmeMermaid(readme: string, mermaid: string): string {
  if (!README_BLOCK.test(readme)) throw new Error('README.md has no ```mermaid block under "## The task lifecycle"');
  return readme.replace(README_BLOCK, (_, head: string, _old: string, tail: string) => `${head}${mermaid}${tail}`);
}
