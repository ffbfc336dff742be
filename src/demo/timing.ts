// The demo's clock settings, shared by the supervisor (main.ts) and the agents (agent.ts): short
// leases so the story takes seconds, and the progressive policy scaled down to match.

export const LEASE_MS = 1200;
export const GRACE_MS = 600;

/** The progressive policy's phases, scaled from minutes to a demo's seconds (1 s ≙ 200 s). */
export const SCALED_PROGRESSIVE = {
  kind: 'progressive',
  noReport: { leaseMs: 900, graceMs: 300 },
  firstReport: { leaseMs: 1200, graceMs: 300 },
  steps: [
    { atProgress: 25, leaseMs: 1500, graceMs: 300 },
    { atProgress: 75, leaseMs: 1800, graceMs: 450 },
  ],
  minLeaseMs: 100,
  maxLeaseMs: 10_000,
};

export const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
