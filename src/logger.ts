// The logger a caller may plug in: the supervisor, its hooks, the lease terms and the scheduled
// jobs all warn through it. A shape only, beside errors.ts, so that any room may speak it
// without importing the room that owns the supervisor.

export interface Logger {
  warn(message: string, ...details: unknown[]): void;
  /** Routine output (the `report` sweep's stats line); without it, console.log is used. */
  info?(message: string, ...details: unknown[]): void;
}
