// The `leasehold` command's exit codes: one per error class, so scripts can tell them apart.
// Usage errors (a missing option, a malformed number or JSON value) share INVALID_INPUT's;
// INTERNAL_ERROR, a bug or anything else unexpected, is 1.
export const EXIT_CODES: Record<string, number> = {
  INTERNAL_ERROR: 1,
  INVALID_INPUT: 2,
  TASK_NOT_FOUND: 3,
  DUPLICATE_TASK: 4,
  LEASE_CONFLICT: 5,
  TERMINAL_TASK: 6,
  STORE_CORRUPT: 7,
  STORE_LOCKED: 8,
  STORE_WRITE_FAILED: 9,
  SUPERVISOR_CLOSED: 10,
  // Through a daemon's API (agent add / revoke, commands over HTTP):
  UNAUTHORIZED: 11,
  FORBIDDEN: 12,
  AGENT_NOT_FOUND: 13,
  DUPLICATE_AGENT: 14,
  // A daemon that does not answer (refused, broken connection, timeout): a write may have landed.
  UNAVAILABLE: 15,
  // A standby daemon (PostgreSQL store) answered: it serves nothing until it takes the store over.
  NOT_LEADER: 16,
};
