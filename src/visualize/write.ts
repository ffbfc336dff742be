// `npm run visualize`: regenerates visualizations/ and the README's lifecycle block from
// the machines. Commit what it changes; the freshness test fails until you do.
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { defaultGraph, FILE_STEMS, visualizationFiles, withReadmeMermaid } from './files.js';
import { toMermaid } from './mermaid.js';

/** The package folder: the nearest one up from here holding package.json. */
let root = import.meta.dirname;
while (!existsSync(join(root, 'package.json')) && dirname(root) !== root) root = dirname(root);
const dir = join(root, 'visualizations');

const files = await visualizationFiles();
const stems = Object.values(FILE_STEMS);
for (const name of readdirSync(dir)) {
  if (stems.some((stem) => name.startsWith(`${stem}.`)) && !(name in files)) rmSync(join(dir, name));
}
for (const [name, contents] of Object.entries(files)) writeFileSync(join(dir, name), contents);

const readme = join(root, 'README.md');
writeFileSync(readme, withReadmeMermaid(readFileSync(readme, 'utf8'), toMermaid(defaultGraph('task'))));
console.log(`wrote ${Object.keys(files).map((f) => `visualizations/${f}`).join(', ')} and the README lifecycle block`);
