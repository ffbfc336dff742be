// Pending timers ordered by deadline, then by arming order: the one structure both clocks
// use, so due timers always fire oldest-first and 100k live leases cost O(log n) each.

interface Timer {
  readonly id: number;
  readonly at: number;
  readonly seq: number;
  readonly fire: () => void;
}

const earlier = (a: Timer, b: Timer) => a.at < b.at || (a.at === b.at && a.seq < b.seq);

export function createTimerQueue() {
  let heap: Timer[] = [];
  const live = new Map<number, Timer>();
  let seq = 0;

  const swap = (i: number, j: number) => {
    const t = heap[i]!;
    heap[i] = heap[j]!;
    heap[j] = t;
  };

  const push = (timer: Timer) => {
    heap.push(timer);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!earlier(heap[i]!, heap[parent]!)) break;
      swap(i, parent);
      i = parent;
    }
  };

  const siftDown = (start: number) => {
    let i = start;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && earlier(heap[l]!, heap[m]!)) m = l;
      if (r < heap.length && earlier(heap[r]!, heap[m]!)) m = r;
      if (m === i) break;
      swap(i, m);
      i = m;
    }
  };

  const popTop = () => {
    const top = heap[0];
    const last = heap.pop();
    if (heap.length > 0 && last) {
      heap[0] = last;
      siftDown(0);
    }
    return top;
  };

  /**
   * A cancelled timer stays in the heap (finding it would cost O(n)) until it reaches the top,
   * which for a 2 h lease renewed every 30 s is 240 dead entries per task. Once the dead
   * outnumber the live, the heap is rebuilt from the live ones (Floyd's O(n) heapify): the
   * heap stays under 2 × live + 1 entries, and the rebuild's cost is paid for by the
   * cancellations since the last one, so `remove` stays amortised O(1).
   */
  const compactIfSparse = () => {
    if (heap.length - live.size <= live.size) return;
    heap = heap.filter((timer) => live.get(timer.id) === timer);
    for (let i = (heap.length >> 1) - 1; i >= 0; i--) siftDown(i);
  };

  /** Drops cancelled timers from the top so `heap[0]` is always live. */
  const dropCancelled = () => {
    while (heap.length > 0 && live.get(heap[0]!.id) !== heap[0]) popTop();
  };

  return {
    add(at: number, fire: () => void): number {
      const timer: Timer = { id: ++seq, at, seq, fire };
      live.set(timer.id, timer);
      push(timer);
      return timer.id;
    },
    remove(id: number): void {
      if (live.delete(id)) compactIfSparse();
    },
    /** Deadline of the earliest live timer, if any. */
    nextAt(): number | undefined {
      dropCancelled();
      return heap[0]?.at;
    },
    /** Removes and returns the earliest live timer if it is due at `now`. */
    takeDue(now: number): Timer | undefined {
      dropCancelled();
      const top = heap[0];
      if (!top || top.at > now) return undefined;
      popTop();
      live.delete(top.id);
      return top;
    },
    get size() {
      return live.size;
    },
    /** Entries the heap holds, cancelled ones included (for tests: it must stay O(size)). */
    get capacity() {
      return heap.length;
    },
  };
}

export type TimerQueue = ReturnType<typeof createTimerQueue>;
