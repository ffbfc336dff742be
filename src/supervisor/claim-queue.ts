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
  /** Left in place when removed (a tombstone), so that taking the head is O(1), not a shift of every entry. */
  removed: boolean;
}

const rankOf = Object.fromEntries(PRIORITIES.map((p, i) => [p, i])) as Record<Priority, number>;
const before = (a: Queued, b: Queued) => a.rank - b.rank || a.createdAt - b.createdAt || a.seq - b.seq;

/**
 * Removed entries (the prefix before `head` and tombstones after it) are swept out once they
 * outnumber live ones and there are at least `sweepAt` of them: the array stays under
 * 2 × live + `sweepAt` entries, and each sweep's O(length) cost is paid for by the removals
 * that preceded it, so every operation stays amortised O(log n) or O(1).
 */
export function createClaimQueue({ sweepAt = 1_024 } = {}) {
  let order: Queued[] = [];
  /** Entries before `head` are all removed: taking the head just moves it on. */
  let head = 0;
  const queued = new Map<string, Queued>();

  /** Index of the first entry not before `item` (binary search; tombstones keep their place in the order). */
  const position = (item: Queued) => {
    let lo = head;
    let hi = order.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (before(order[mid]!, item) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };

  const sweep = () => {
    while (head < order.length && order[head]!.removed) head++;
    // Everything in `order` that is not live: the skipped prefix counts too, or it grows forever.
    const dead = order.length - queued.size;
    if (dead < sweepAt || dead < queued.size) return;
    order = order.slice(head).filter((item) => !item.removed);
    head = 0;
  };

  return {
    add(id: string, key: ClaimKey): void {
      if (queued.has(id)) return;
      const item: Queued = { id, ...key, rank: rankOf[key.priority], removed: false };
      queued.set(id, item);
      order.splice(position(item), 0, item);
    },
    remove(id: string): void {
      const item = queued.get(id);
      if (!item) return;
      queued.delete(id);
      item.removed = true;
      sweep();
    },
    /** The first task in claim order that has every wanted label. */
    first(labels: readonly string[] = []): string | undefined {
      for (let i = head; i < order.length; i++) {
        const item = order[i]!;
        if (!item.removed && labels.every((label) => item.labels.includes(label))) return item.id;
      }
      return undefined;
    },
    get size() {
      return queued.size;
    },
    /** Entries the order array holds, tombstones included (for tests: it must stay O(size)). */
    get capacity() {
      return order.length;
    },
  };
}
