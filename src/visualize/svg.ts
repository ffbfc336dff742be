// SVG from DOT, rendered in-process by Graphviz compiled to WebAssembly
// (@hpcc-js/wasm-graphviz): no `dot` binary, no browser, no network. The WASM module is
// loaded once, on first use.
import type { Graphviz } from '@hpcc-js/wasm-graphviz';

let graphviz: Promise<Graphviz> | undefined;

function load(): Promise<Graphviz> {
  graphviz ??= import('@hpcc-js/wasm-graphviz').then(({ Graphviz }) => Graphviz.load());
  return graphviz;
}

/** Lays out `dot` with Graphviz's `dot` engine and returns the SVG document. */
export async function renderSvg(dot: string): Promise<string> {
  const svg = (await load()).dot(dot, 'svg');
  return svg.endsWith('\n') ? svg : `${svg}\n`;
}
