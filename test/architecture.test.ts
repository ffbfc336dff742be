// The layering of DESIGN.md "Layout", checked mechanically: machines/ is pure and imports
// nothing from src/, and no module in src/ or machines/ reaches itself again through its
// imports (type-only imports included: a type cycle is still two modules that cannot be
// read, moved or served from a separate process one without the other).
// Imports are read with a regex rather than the compiler: relative specifiers in
// `import … from`, `export … from`, side-effect `import '…'` and inline `import('…')` types.
// The task states are named once (machines/task.types.ts); the last block checks that list
// against the machine itself.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { taskMachine } from '../machines/task.machine.js';
import { TASK_STATES, TERMINAL_STATES } from '../machines/task.types.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(?\s*)'(\.{1,2}\/[^']+)'/g;

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((file) => (file.endsWith('.ts') || file.endsWith('.tsx')) && !file.endsWith('.d.ts'))
    .map((file) => join(dir, file));
}

/** The project files `file` imports, as paths relative to the root (`src/errors.ts`); `./app.js` may be app.tsx. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  return [...text.matchAll(SPECIFIER)].map(([, specifier]) => {
    const target = resolve(ROOT, dirname(file), specifier!.replace(/\.js$/, '.ts'));
    return relative(ROOT, !existsSync(target) && existsSync(`${target}x`) ? `${target}x` : target);
  });
}

/** Every import cycle, each as the chain of files that closes it (`a → b → a`). */
function importCycles(graph: Map<string, string[]>): string[] {
  const cycles: string[] = [];
  const done = new Set<string>();
  const path: string[] = [];
  const visit = (file: string): void => {
    const open = path.indexOf(file);
    if (open >= 0) {
      cycles.push([...path.slice(open), file].join(' → '));
      return;
    }
    if (done.has(file)) return;
    path.push(file);
    for (const next of graph.get(file) ?? []) visit(next);
    path.pop();
    done.add(file);
  };
  for (const file of [...graph.keys()].sort()) visit(file);
  return cycles;
}

const files = [...sourceFiles('src'), ...sourceFiles('machines')];
const graph = new Map(files.map((file) => [file, importsOf(file)]));

/** `src/supervisor` for src/supervisor/task-table.ts; `src` for src/errors.ts; `machines`. */
function folderOf(file: string): string {
  const parts = file.split('/');
  return parts.length > 2 ? parts.slice(0, 2).join('/') : parts[0]!;
}

/** Entry files re-export every room, so they stand above the folder graph, not in it. */
const ENTRY_FILES = new Set(['src/index.ts', 'src/testing.ts']);

/**
 * Programs: they stand on top of everything, the server and the client included; nothing imports
 * them. The dashboard is one, in the browser (it reuses the client's SSE framing).
 */
const PROGRAMS = ['src/cli/', 'src/demo/', 'src/dashboard/'];

/** Folder of importer → folders it imports (itself left out), over every non-entry file. */
const folderGraph = new Map<string, string[]>();
for (const [file, imports] of graph) {
  if (ENTRY_FILES.has(file)) continue;
  const from = folderOf(file);
  const targets = new Set(folderGraph.get(from) ?? []);
  for (const imported of imports) {
    if (!ENTRY_FILES.has(imported) && folderOf(imported) !== from) targets.add(folderOf(imported));
  }
  folderGraph.set(from, [...targets].sort());
}

/** What src/task/ (a task as data) may build on: nothing that runs, schedules or reads tasks. */
const TASK_MAY_IMPORT = ['machines/', 'src/errors.ts', 'src/clock/', 'src/store/', 'src/task/'];

/**
 * What src/client/ (leasehold/client, run in agents' processes) may build on: the errors, and
 * the library's types; it never loads the supervisor, a store or the server.
 */
const CLIENT_MAY_IMPORT = ['src/client/', 'src/errors.ts', 'machines/task.types.ts', 'src/task/view.ts', 'src/supervisor/options.ts'];
/** Of those, the ones it may import types from only (`import type`): nothing of them runs in a client. */
const CLIENT_TYPES_ONLY = /^\s*import\s+(?!type\b)[^;]*from\s*'\.\.\/(?:\.\.\/machines\/task\.types|task\/view|supervisor\/options)\.js'/m;

describe('architecture', () => {
  it('has no import cycle in src/ or machines/ (type-only imports included)', () => {
    expect(importCycles(graph)).toEqual([]);
  });

  it('keeps machines/ pure: no file in machines/ imports from src/', () => {
    const reachesIntoSrc = [...graph]
      .filter(([file]) => file.startsWith('machines/'))
      .flatMap(([file, imports]) => imports.filter((i) => i.startsWith('src/')).map((i) => `${file} → ${i}`));
    expect(reachesIntoSrc).toEqual([]);
  });

  it('has no import cycle between the folders of src/', () => {
    expect(importCycles(folderGraph)).toEqual([]);
  });

  it('keeps src/task/ low: it imports only machines/, src/errors.ts, src/clock/, src/store/ and itself', () => {
    const reachesUp = [...graph]
      .filter(([file]) => file.startsWith('src/task/'))
      .flatMap(([file, imports]) => imports.filter((i) => !TASK_MAY_IMPORT.some((allowed) => i.startsWith(allowed))).map((i) => `${file} → ${i}`));
    expect(reachesUp).toEqual([]);
    expect([...graph.keys()].filter((file) => file.startsWith('src/task/')).length).toBeGreaterThan(0);
  });

  it('keeps src/client/ apart: it imports only errors.ts and the library\'s types, and only entries (the CLI and the demo among them) import it', () => {
    const clientFiles = [...graph.keys()].filter((file) => file.startsWith('src/client/'));
    expect(clientFiles.length).toBeGreaterThan(0);
    const reachesOut = clientFiles.flatMap((file) =>
      graph.get(file)!.filter((i) => !CLIENT_MAY_IMPORT.some((allowed) => i.startsWith(allowed))).map((i) => `${file} → ${i}`),
    );
    expect(reachesOut).toEqual([]);
    expect(clientFiles.filter((file) => CLIENT_TYPES_ONLY.test(readFileSync(join(ROOT, file), 'utf8')))).toEqual([]);
    const importers = [...graph]
      .filter(([file]) => !file.startsWith('src/client/') && !PROGRAMS.some((program) => file.startsWith(program)) && !ENTRY_FILES.has(file))
      .flatMap(([file, imports]) => imports.filter((i) => i.startsWith('src/client/')).map((i) => `${file} → ${i}`));
    expect(importers).toEqual([]);
  });

  it('keeps src/server/ at the top: only the programs (the CLI, the demo) import it, and it imports no entry', () => {
    const intoServer = [...graph]
      .filter(([file]) => !file.startsWith('src/server/') && !PROGRAMS.some((program) => file.startsWith(program)))
      .flatMap(([file, imports]) => imports.filter((i) => i.startsWith('src/server/')).map((i) => `${file} → ${i}`));
    expect(intoServer).toEqual([]);
    const serverOut = [...graph]
      .filter(([file]) => file.startsWith('src/server/'))
      .flatMap(([file, imports]) => imports.filter((i) => ENTRY_FILES.has(i) || PROGRAMS.some((program) => i.startsWith(program))).map((i) => `${file} → ${i}`));
    expect(serverOut).toEqual([]);
  });

  it('keeps every module of src/ and machines/ under 400 lines', () => {
    const long = files
      .map((file) => [file, readFileSync(join(ROOT, file), 'utf8').split('\n').length - 1] as const)
      .filter(([, lines]) => lines >= 400);
    expect(long).toEqual([]);
  });

  it('reads the imports it checks (the regex still matches this codebase, .tsx included)', () => {
    expect(graph.get('src/index.ts')).toContain('machines/task.types.ts');
    expect(graph.get('src/dashboard/main.tsx')).toContain('src/dashboard/app.tsx');
    expect(graph.size).toBeGreaterThan(50);
  });
});

describe('task state names', () => {
  // Compared as sets: TASK_STATES keeps its published order, the machine its diagram's order.
  it('TASK_STATES are exactly the task machine\'s top-level states', () => {
    expect(Object.keys(taskMachine.config.states ?? {}).sort()).toEqual([...TASK_STATES].sort());
  });

  it('TERMINAL_STATES are exactly the states tagged terminal', () => {
    const tagged = Object.entries(taskMachine.config.states ?? {})
      .filter(([, state]) => [state.tags ?? []].flat().includes('terminal'))
      .map(([name]) => name);
    expect(tagged.sort()).toEqual([...TERMINAL_STATES].sort());
  });
});
