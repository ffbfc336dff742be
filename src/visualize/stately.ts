// `createMachine({...})` source for Stately Studio's "Import from code", written from
// `machine.root`: states, tags, descriptions, `on`, `after`, `always`, invokes with their
// onDone/onError, entry/exit actions. Guards, actions, delays and actors are referenced by
// name (higher-order guards by their readable text, e.g. 'not isOwner'); action params are
// kept when they are plain data. Implementations stay in the machine files.
import type { AnyStateMachine, AnyStateNode, AnyTransitionDefinition } from 'xstate';
import { actionType, guardText, staticParams } from './graph.js';

type Code = string | number | boolean | null | Code[] | { [key: string]: Code | undefined };

/** Actions xstate adds itself (the raise/cancel pair behind every `after`). */
const GENERATED_ACTIONS = new Set(['xstate.raise', 'xstate.cancel']);

const isParameterised = (action: unknown) => typeof action === 'object' && action !== null && 'params' in action;

/** Plain JSON data survives a JSON round trip unchanged. */
const isPlainData = (value: unknown) => {
  try {
    return JSON.stringify(JSON.parse(JSON.stringify(value))) === JSON.stringify(value);
  } catch {
    return false;
  }
};

/** `'name'`, or `{ type, params }` when the params are plain data (dynamic params are dropped). */
function actionCode(action: unknown): Code {
  const type = actionType(action);
  if (!isParameterised(action)) return type;
  const params = staticParams(action);
  return params !== undefined && isPlainData(params) ? { type, params: params as Code } : { type };
}

function actionsCode(actions: readonly unknown[]): Code | undefined {
  const list = actions.filter((a) => !GENERATED_ACTIONS.has(actionType(a))).map(actionCode);
  if (list.length === 0) return undefined;
  return list.length === 1 ? list[0] : list;
}

/** A target as written from `source`: a sibling by key, a descendant as `.a.b`, anything else by `#id`. */
function targetCode(source: AnyStateNode, target: AnyStateNode): string {
  if (target.parent && target.parent === source.parent) return target.key;
  if (target.path.length > source.path.length && target.path.slice(0, source.path.length).join('.') === source.path.join('.')) {
    return `.${target.path.slice(source.path.length).join('.')}`;
  }
  return `#${target.id}`;
}

function transitionCode(source: AnyStateNode, t: AnyTransitionDefinition): Code {
  const targets = (t.target ?? []).map((target) => targetCode(source, target));
  return {
    target: targets.length === 0 ? undefined : targets.length === 1 ? targets[0] : targets,
    guard: guardText(t.guard) ?? undefined,
    actions: actionsCode(t.actions),
    reenter: t.reenter ? true : undefined,
    description: t.description,
  };
}

function transitionsCode(source: AnyStateNode, list: readonly AnyTransitionDefinition[]): Code {
  const all = list.map((t) => transitionCode(source, t));
  return all.length === 1 ? all[0]! : all;
}

function stateCode(node: AnyStateNode): { [key: string]: Code | undefined } {
  const config: { [key: string]: Code | undefined } = {};
  if (node.type === 'final' || node.type === 'parallel' || node.type === 'history') config.type = node.type;
  if (node.type === 'history' && node.history) config.history = node.history;
  if (node.type === 'compound') config.initial = node.initial.target[0]!.key;
  if (node.description) config.description = node.description;
  if (node.tags.length > 0) config.tags = [...node.tags];
  config.entry = actionsCode(node.entry);
  config.exit = actionsCode(node.exit);

  const handled = new Set<string>();
  if (node.invoke.length > 0) {
    const invokes = node.invoke.map((invoke, index) => {
      const done = `xstate.done.actor.${invoke.id}`;
      const error = `xstate.error.actor.${invoke.id}`;
      handled.add(done).add(error);
      const generatedId = invoke.id === `${index}.${node.id}`;
      return {
        src: typeof invoke.src === 'string' ? invoke.src : invoke.id,
        id: generatedId ? undefined : invoke.id,
        onDone: node.transitions.has(done) ? transitionsCode(node, node.transitions.get(done)!) : undefined,
        onError: node.transitions.has(error) ? transitionsCode(node, node.transitions.get(error)!) : undefined,
      };
    });
    config.invoke = invokes.length === 1 ? invokes[0] : invokes;
  }
  const stateDone = `xstate.done.state.${node.id}`;
  if (node.transitions.has(stateDone)) {
    handled.add(stateDone);
    config.onDone = transitionsCode(node, node.transitions.get(stateDone)!);
  }
  if (node.after.length > 0) {
    const after: { [key: string]: Code } = {};
    for (const delayed of node.after) {
      handled.add(delayed.eventType);
      const delay = String((delayed as { delay: string | number }).delay);
      if (delay in after) continue;
      after[delay] = transitionsCode(node, node.transitions.get(delayed.eventType)!);
    }
    config.after = after;
  }
  if (node.always && node.always.length > 0) config.always = transitionsCode(node, node.always);
  const on: { [key: string]: Code } = {};
  for (const [event, list] of node.transitions) if (!handled.has(event)) on[event] = transitionsCode(node, list);
  if (Object.keys(on).length > 0) config.on = on;
  const children = Object.values(node.states) as AnyStateNode[];
  if (children.length > 0) config.states = Object.fromEntries(children.map((child) => [child.key, stateCode(child)]));
  return config;
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** JavaScript source for a value: identifier keys unquoted, single-quoted strings, undefined dropped. */
function write(value: Code, indent: string): string {
  if (typeof value === 'string') return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n')}'`;
  if (typeof value !== 'object' || value === null) return JSON.stringify(value);
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    const flat = value.map((v) => write(v, inner));
    const oneLine = `[${flat.join(', ')}]`;
    return oneLine.length <= 80 && !oneLine.includes('\n') ? oneLine : `[\n${flat.map((v) => `${inner}${v},`).join('\n')}\n${indent}]`;
  }
  const entries = Object.entries(value).filter(([, v]) => v !== undefined) as [string, Code][];
  if (entries.length === 0) return '{}';
  const parts = entries.map(([k, v]) => `${IDENTIFIER.test(k) ? k : write(k, inner)}: ${write(v, inner)}`);
  const oneLine = `{ ${parts.join(', ')} }`;
  if (oneLine.length <= 80 && !oneLine.includes('\n')) return oneLine;
  return `{\n${parts.map((p) => `${inner}${p},`).join('\n')}\n${indent}}`;
}

/** The machine as `createMachine({...})` code, with a header saying where it came from. */
export function toStately(machine: AnyStateMachine, name = `${machine.id.replace(/[^A-Za-z0-9_$]+(.)?/g, (_, c: string | undefined) => (c ?? '').toUpperCase())}Machine`): string {
  const root = machine.root;
  const config = { id: machine.id, ...stateCode(root) };
  return [
    `// The "${machine.id}" machine, exported for Stately Studio's "Import from code" (leasehold diagram --format stately).`,
    '// Guards, actions, delays and actors are referenced by name; their implementations stay in the',
    '// machine definition. Higher-order guards are written as their text (e.g. "not isOwner").',
    "import { createMachine } from 'xstate';",
    '',
    `export const ${name} = createMachine(${write(config, '')});`,
    '',
  ].join('\n');
}
