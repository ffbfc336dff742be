// The line protocol between the demo and its agent processes, both ends of it. An agent writes
// one line per action on stdout (the demo prints it after the agent's name) and `@signal` lines
// the demo waits on to pace the story (`@ready`, `@claimed`, …); the demo writes `go` on the
// agent's stdin when its turn comes. Tokens never travel here: they are in the agent's env.

const SIGNAL = '@';

/** Agent side: one narrated action. */
export const report = (line: string) => void process.stdout.write(`${line.replace(/\n/g, ' ')}\n`);

/** Agent side: a pacing signal for the demo (not narrated). */
export const signal = (name: string) => void process.stdout.write(`${SIGNAL}${name}\n`);

/** Demo side: a line from an agent, as a signal or as narration. */
export const parseLine = (line: string): { signal: string } | { say: string } =>
  line.startsWith(SIGNAL) ? { signal: line.slice(SIGNAL.length) } : { say: line };

export const GO = 'go';
