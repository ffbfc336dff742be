// `GET /v1/diagram.svg`: the task lifecycle as SVG, drawn from the machine definition this
// server runs (src/visualize) at the detail asked for. Each detail is laid out once, on its
// first request, and kept: the definition cannot change while the process runs.
import type { z } from 'zod';
import { defaultGraph, MACHINES } from '../../visualize/files.js';
import { machineGraph, renderSvg, toDot, type Detail } from '../../visualize/index.js';
import { route } from '../route.js';
import { queries } from '../schemas.js';

const rendered = new Map<Detail, Promise<string>>();

/** The SVG at `detail`: the user view (the API's words), or the machine's own states and events. */
export function diagramSvg(detail: Detail): Promise<string> {
  let svg = rendered.get(detail);
  if (svg === undefined) {
    const graph = detail === 'user' ? defaultGraph('task') : machineGraph(MACHINES.task);
    svg = renderSvg(toDot(graph, { detail }));
    rendered.set(detail, svg);
    // A failed layout is not kept: the next request tries again.
    svg.catch(() => rendered.delete(detail));
  }
  return svg;
}

export const diagramRoutes = [
  route<undefined, z.output<typeof queries.diagram>>({
    method: 'GET', url: '/v1/diagram.svg', who: 'any', query: queries.diagram, type: 'image/svg+xml; charset=utf-8',
    summary: 'the task lifecycle as SVG (detail: user, the default; compact; full), from the running machine definition',
    answer: 'image/svg+xml: each state a <g class="node"> titled task.<path>, each compound state a <g class="cluster"> titled cluster_task.<path>',
    run: ({ query }) => diagramSvg(query.detail ?? 'user'),
  }),
];
