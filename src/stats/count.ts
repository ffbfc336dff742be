// Counts as people write them: "1 task", "2 tasks", "0 tasks". Shared by the stats line and
// the CLI, so that no message says "1 tasks".

/** `n` followed by `noun`, in the plural (`plural`, default `noun` + "s") unless n is 1. */
export function counted(n: number, noun: string, plural = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : plural}`;
}
