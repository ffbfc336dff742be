// The task lifecycle in the API's words, for the user view (user.ts): which command sends
// each event, what each timer and invoked actor's outcome means, how a guard reads to someone
// who knows only the API, and which internal steps fold into a state a user sees. Events,
// delays and outcomes not named here (`task.resume`, the compensation backoff) stay hidden.
import type { Words } from './user.js';

export const taskWords: Words = {
  commands: {
    'lease.claim': 'claim',
    'lease.heartbeat': 'heartbeat',
    'lease.extend': 'extend',
    'lease.release': 'release',
    'task.complete': 'complete',
    'task.fail': 'fail',
    'task.quarantine': 'quarantine',
    'compensation.add': 'addCompensation',
    'task.annotate': 'annotate',
  },
  delays: { leaseExpiry: 'lease expires', graceExpiry: 'grace ends', retryBackoff: 'backoff ends' },
  outcomes: {
    decideGrace: { done: 'grace ends', error: 'grace ends' },
    compensate: { done: 'compensation done', error: 'compensation failed' },
  },
  guards: {
    hasHandOff: { when: null },
    reachesMaxRenewals: { when: null },
    extendsWindow: { when: null },
    canRetry: { when: 'retryable, attempts left', otherwise: 'no retry' },
    tooManyExpiries: { when: 'too many expiries' },
    consultsPolicy: { when: null },
    graceExtended: { names: 'grace extended' },
    allCompensated: { names: 'all compensations done' },
    handlerMissing: { when: 'no handler' },
    compensationRetriesLeft: { when: 'retries left', otherwise: 'retries used up' },
  },
  fold: { 'stale.deciding': 'stale.grace', failed: 'failed' },
  fences: { isOwner: 'holder', isCurrentEpoch: 'current epoch' },
};
