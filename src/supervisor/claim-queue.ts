// The claimable tasks (planned past backoff, or stale.expired) in claim order: highest
// priority first, then oldest, then first created. Kept sorted as tasks come and go, so
// `claimNext` takes the head instead of scanning every task.
import { PRIORITIES, type Priority } from '../../machines/task.types.js';

export interface ClaimKey {
  priority: Priority;
  createdAt: number;
  /** Creation order in this supervisor, the last tie-breaker. */
  seq: number;
  labels: readonly string[];
}

interface Queued extends ClaimKey {
  id: string;
  rank: number;
}

const rankOf = Object.fromEntries(PRIORITIES.map((p, i) => [p, i])) as Record<Priority, number>;
const before = (a: Queued, b: Queued) => a.rank - b.rank || a.createdAt - b.createdAt || a.seq - b.seq;

export function createClaimQueue() {
  const order: Queued[] = [];
  const queued = new Map<string, Queued>();

  /** Index of the first entry not before `item` (binary search). */
  const position = (item: Queued) => {
    let lo = 0;
    let hi = order.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (before(order[mid]!, item) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };

  return {
    add(id: string, key: ClaimKey): void {
      if (queued.has(id)) return;
      const item: Queued = { id, ...key, rank: rankOf[key.priority] };
      queued.set(id, item);
      order.splice(position(item), 0, item);
    },
    remove(id: string): void {
      const item = queued.get(id);
      if (!item) return;
      queued.delete(id);
      order.splice(position(item), 1);
    },
    /** The first task in claim order that has every wanted label. */
    first(labels: readonly string[] = []): string | undefined {
      return order.find((item) => labels.every((label) => item.labels.includes(label)))?.id;
    },
    get size() {
      return order.length;
    },
  };
}
