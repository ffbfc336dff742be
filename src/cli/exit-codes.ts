// The `leasehold` command's exit codes: one per error class, so scripts can tell them apart.
// Usage errors (a missing option, a malformed number or JSON value) share INVALID_INPUT's.
export const EXIT_CODES: Record<string, number> = {
  INVALID_INPUT: 2,
  TASK_NOT_FOUND: 3,
  DUPLICATE_TASK: 4,
  LEASE_CONFLICT: 5,
  TERMINAL_TASK: 6,
  STORE_CORRUPT: 7,
  STORE_LOCKED: 8,
  STORE_WRITE_FAILED: 9,
  SUPERVISOR_CLOSED: 10,
};
