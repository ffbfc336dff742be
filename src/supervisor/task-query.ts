// Which tasks a read answers and in what order: the filters `list` and `page` share, the sort
// keys of `page` and its window. Runs on the live snapshots (read, never changed), so that only
// the tasks answered are copied: a page of 50 out of 100,000 tasks copies 50 views.
import { PRIORITIES } from '../../machines/task.types.js';
import { statePath, taskView, type TaskSnapshot, type TaskView } from '../task/view.js';
import type { TaskQuery, TaskSortKey } from './inputs.js';

export const DEFAULT_PAGE_LIMIT = 50;

/** Windows up to this size are picked without sorting every match (see `firstSorted`). */
const SELECT_AT_MOST = 1_000;

type Filter = Pick<TaskQuery, 'state' | 'substate' | 'owner' | 'label' | 'search'>;

/** Whether a task matches every filter given (none given: every task). */
export function taskFilter({ state, substate, owner, label, search }: Filter): (snapshot: TaskSnapshot) => boolean {
  const needle = search?.toLowerCase();
  const byPath = state !== undefined || substate !== undefined;
  return ({ value, context }) => {
    if (owner !== undefined && context.lease?.owner !== owner) return false;
    if (label !== undefined && !context.labels.includes(label)) return false;
    if (needle !== undefined && !context.id.toLowerCase().includes(needle)) return false;
    if (!byPath) return true;
    const path = statePath(value);
    return (substate === undefined || path === substate) && (state === undefined || path === state || path.startsWith(`${state}.`));
  };
}

/** Priority as a number: low 0 … critical 3, so ascending reads "least urgent first". */
const RANK = new Map<string, number>(PRIORITIES.map((priority, index) => [priority, PRIORITIES.length - 1 - index]));

/** A task's sort key; null for a task without a lease when sorting by a lease field. */
function keyOf(sort: TaskSortKey, { value, context }: TaskSnapshot): string | number | null {
  switch (sort) {
    case 'createdAt':
      return context.createdAt;
    case 'id':
      return context.id;
    case 'state':
      return statePath(value);
    case 'owner':
      return context.lease?.owner ?? null;
    case 'priority':
      return RANK.get(context.priority) ?? 0;
    case 'attempts':
      return context.attempts;
    case 'progress':
      return context.progress;
    case 'expiresAt':
      return context.lease?.expiresAt ?? null;
  }
}

interface Keyed {
  key: string | number | null;
  id: string;
  snapshot: TaskSnapshot;
}

/** Plain comparison (code units for text, so the order is the same on every machine). */
const compare = (a: string | number, b: string | number) => (a < b ? -1 : a > b ? 1 : 0);

function comparator(descending: boolean) {
  const direction = descending ? -1 : 1;
  return (a: Keyed, b: Keyed): number => {
    if (a.key !== b.key) {
      // No key (no lease) sorts after every key, in either order.
      if (a.key === null) return 1;
      if (b.key === null) return -1;
      const primary = compare(a.key, b.key);
      if (primary !== 0) return primary * direction;
    }
    return compare(a.id, b.id);
  };
}

/**
 * The first `count` items in `order`. A small window (a page near the start) is kept sorted
 * while the matches stream past it, so most matches cost one comparison with its last item,
 * not a place in a sort of all of them.
 */
function firstSorted(items: Keyed[], count: number, order: (a: Keyed, b: Keyed) => number): Keyed[] {
  if (count > SELECT_AT_MOST || count * 4 >= items.length) return items.sort(order).slice(0, count);
  const kept: Keyed[] = [];
  for (const item of items) {
    if (kept.length === count && order(item, kept[count - 1]!) >= 0) continue;
    let low = 0;
    let high = kept.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (order(item, kept[middle]!) < 0) high = middle;
      else low = middle + 1;
    }
    kept.splice(low, 0, item);
    if (kept.length > count) kept.pop();
  }
  return kept;
}

export interface PageWindow {
  total: number;
  offset: number;
  limit: number;
  tasks: TaskView[];
}

/** The tasks of one page of `query` (already validated) among `snapshots`, copied. */
export function pageOf(snapshots: Iterable<TaskSnapshot>, query: TaskQuery): PageWindow {
  const matches = taskFilter(query);
  const sort = query.sort ?? 'createdAt';
  const offset = query.offset ?? 0;
  const limit = query.limit ?? DEFAULT_PAGE_LIMIT;
  const items: Keyed[] = [];
  for (const snapshot of snapshots) {
    if (matches(snapshot)) items.push({ key: keyOf(sort, snapshot), id: snapshot.context.id, snapshot });
  }
  const window = offset >= items.length ? [] : firstSorted(items, offset + limit, comparator(query.order === 'desc')).slice(offset);
  return { total: items.length, offset, limit, tasks: window.map((item) => taskView(item.snapshot)) };
}
