// `leasehold/visualize`: diagrams from any XState machine definition (Mermaid, DOT, SVG,
// Stately Studio code), live counts on the task lifecycle, and task traces.
export { machineGraph, TERMINAL_TAG } from './graph.js';
export type { Detail, GraphOptions, MachineGraph, State, Transition, TriggerKind } from './graph.js';
export type { Occupancy } from './live.js';
export { toMermaid } from './mermaid.js';
export type { MermaidOptions } from './mermaid.js';
export { toDot } from './dot.js';
export type { DotOptions } from './dot.js';
export { renderSvg } from './svg.js';
export { toStately } from './stately.js';
export { toTrace } from './trace.js';
export type { TraceInput } from './trace.js';
export { MACHINES, WORDS, type MachineName } from './files.js';
export { userGraph, userView } from './user.js';
export type { GuardWords, Words } from './user.js';
export { occupancyOf } from './live.js';
