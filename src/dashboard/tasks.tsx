// The task table (`#/tasks?…`): filters, sort and paging done by the server (GET
// /v1/task-page, 50 a page), all of them in the URL so a view can be shared; rows reload on
// live events (at most once a second) and lease countdowns tick on the server's clock.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { TASK_STATES } from '../../machines/task.types.js';
import { api, errorText } from './api.js';
import { count } from './format.js';
import { useEventReload, useServerNow } from './live.js';
import { go, taskHash, tasksHash, useTitle } from './router.js';
import type { TaskPage } from './types.js';
import { Countdown, ErrorNote, ProgressBar, StateChip } from './ui.js';

const PAGE_SIZE = 50;
const FILTERS = ['state', 'substate', 'owner', 'label', 'search'] as const;
type Filter = (typeof FILTERS)[number];

const COLUMNS: { col: string; label: string; sort?: string }[] = [
  { col: 'id', label: 'Task', sort: 'id' },
  { col: 'state', label: 'State', sort: 'state' },
  { col: 'owner', label: 'Owner · epoch', sort: 'owner' },
  { col: 'progress', label: 'Progress', sort: 'progress' },
  { col: 'lease', label: 'Lease left', sort: 'expiresAt' },
  { col: 'attempts', label: 'Attempts', sort: 'attempts' },
  { col: 'priority', label: 'Priority', sort: 'priority' },
  { col: 'labels', label: 'Labels' },
];

/** The URL's query as the route keeps it: filters, sort, order, offset. */
function readQuery(query: URLSearchParams) {
  const filters = Object.fromEntries(FILTERS.map((key) => [key, query.get(key) ?? ''])) as Record<Filter, string>;
  const offset = Math.max(0, Math.floor(Number(query.get('offset') ?? 0)) || 0);
  return { filters, sort: query.get('sort') ?? '', order: query.get('order') === 'desc' ? 'desc' : 'asc', offset };
}

function Filters({ filters, apply }: { filters: Record<Filter, string>; apply: (next: Record<Filter, string>, replace: boolean) => void }) {
  const [draft, setDraft] = useState(filters);
  const typing = useRef<ReturnType<typeof setTimeout>>(undefined);
  useEffect(() => setDraft(filters), [filters.state, filters.substate, filters.owner, filters.label, filters.search]);
  useEffect(() => () => clearTimeout(typing.current), []);

  const change = (key: Filter, value: string, now: boolean) => {
    const next = { ...draft, [key]: value };
    setDraft(next);
    clearTimeout(typing.current);
    if (now) apply(next, false);
    else typing.current = setTimeout(() => apply(next, true), 350);
  };
  const text = (key: Filter, label: string, placeholder: string) => (
    <label class="field">
      <span>{label}</span>
      <input name={key} type="search" value={draft[key]} placeholder={placeholder} autocomplete="off" spellcheck={false} onInput={(e) => change(key, e.currentTarget.value, false)} />
    </label>
  );
  return (
    <form
      class="filters"
      data-testid="task-filters"
      role="search"
      onSubmit={(event) => {
        event.preventDefault();
        clearTimeout(typing.current);
        apply(draft, false);
      }}
    >
      <label class="field">
        <span>State</span>
        <select name="state" value={draft.state} onChange={(e) => change('state', e.currentTarget.value, true)}>
          <option value="">any state</option>
          {TASK_STATES.map((state) => (
            <option key={state} value={state}>
              {state}
            </option>
          ))}
        </select>
      </label>
      {text('substate', 'Substate', 'e.g. stale.grace')}
      {text('owner', 'Owner', 'lease owner')}
      {text('label', 'Label', 'has label')}
      {text('search', 'Task id', 'contains…')}
      <div class="filter-buttons">
        <button type="submit">Apply</button>
        <button type="button" class="quiet" onClick={() => apply({ state: '', substate: '', owner: '', label: '', search: '' }, false)}>
          Clear
        </button>
      </div>
    </form>
  );
}

export function Tasks({ query }: { query: URLSearchParams }) {
  useTitle('Tasks — leasehold');
  const { filters, sort, order, offset } = readQuery(query);
  const key = query.toString();
  const [page, setPage] = useState<TaskPage | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const now = useServerNow();

  /** The latest load: an answer to an earlier one (other filters, or overtaken) is dropped. */
  const latest = useRef(0);
  const load = useCallback(() => {
    const mine = ++latest.current;
    const params = new URLSearchParams();
    for (const name of FILTERS) if (filters[name]) params.set(name, filters[name]);
    if (sort) params.set('sort', sort);
    if (order === 'desc') params.set('order', 'desc');
    params.set('offset', String(offset));
    params.set('limit', String(PAGE_SIZE));
    const stop = new AbortController();
    setLoading(true);
    api.taskPage(params, stop.signal).then(
      (answer) => {
        if (mine !== latest.current) return;
        setPage(answer);
        setError(null);
        setLoading(false);
      },
      (failure: unknown) => {
        if (stop.signal.aborted || mine !== latest.current) return;
        setError(errorText(failure));
        setLoading(false);
      },
    );
    return stop;
  }, [key]);

  useEffect(() => {
    const stop = load();
    return () => stop.abort();
  }, [load]);
  const reload = useCallback(() => void load(), [load]);
  useEventReload(reload, 1000);

  const move = (patch: Partial<{ filters: Record<Filter, string>; sort: string; order: string; offset: number }>, replace = false) => {
    const next = { filters, sort, order, offset, ...patch };
    go(tasksHash({ ...next.filters, sort: next.sort || undefined, order: next.order === 'desc' ? 'desc' : undefined, offset: next.offset }), replace);
  };
  const sortBy = (column: string) => move({ sort: column, order: sort === column && order === 'asc' ? 'desc' : 'asc', offset: 0 });

  const total = page?.total ?? 0;
  const first = total === 0 ? 0 : offset + 1;
  const last = Math.min(offset + PAGE_SIZE, total);
  return (
    <div class="tasks">
      <div class="page-head">
        <h1>Tasks</h1>
        <span class="muted" aria-live="polite">
          {page ? `${count(total)} ${total === 1 ? 'match' : 'matches'}` : loading ? 'loading…' : ''}
        </span>
      </div>
      <Filters filters={filters} apply={(next, replace) => move({ filters: next, offset: 0 }, replace)} />
      {error && <ErrorNote>{error}</ErrorNote>}
      <div class="table-wrap">
        <table class="task-table" data-testid="task-table" data-total={String(total)} data-offset={String(page?.offset ?? offset)} aria-busy={loading}>
          <thead>
            <tr>
              {COLUMNS.map((column) => (
                <th key={column.col} scope="col" aria-sort={column.sort && sort === column.sort ? (order === 'desc' ? 'descending' : 'ascending') : undefined}>
                  {column.sort ? (
                    <button type="button" class="sort" data-sort={column.sort} onClick={() => sortBy(column.sort!)}>
                      {column.label}
                      <span class="sort-mark" aria-hidden="true">
                        {sort === column.sort ? (order === 'desc' ? '▼' : '▲') : ''}
                      </span>
                    </button>
                  ) : (
                    column.label
                  )}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {page?.tasks.map((task) => (
              <tr key={task.id} data-task-id={task.id}>
                <td data-col="id" class="mono">
                  <a href={taskHash(task.id)}>{task.id}</a>
                </td>
                <td data-col="state">
                  <StateChip substate={task.substate} />
                </td>
                <td data-col="owner">{task.lease ? <span>{task.lease.owner} <span class="muted">· e{task.lease.epoch}</span></span> : <span class="muted">—</span>}</td>
                <td data-col="progress">
                  <ProgressBar value={task.progress} />
                </td>
                <td data-col="lease">{task.lease && (task.state === 'leased' || task.state === 'stale') ? <Countdown lease={task.lease} now={now} /> : <span class="muted">—</span>}</td>
                <td data-col="attempts" class="num">
                  {task.attempts}
                  <span class="muted">/{task.limits.maxAttempts}</span>
                </td>
                <td data-col="priority">
                  <span class={`priority priority-${task.priority}`}>{task.priority}</span>
                </td>
                <td data-col="labels">
                  {task.labels.map((label) => (
                    <span key={label} class="tag">
                      {label}
                    </span>
                  ))}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {page && page.tasks.length === 0 && <p class="empty">No task matches these filters.</p>}
      </div>
      <nav class="pager" aria-label="pages">
        <button type="button" data-testid="prev-page" disabled={offset === 0} onClick={() => move({ offset: Math.max(0, offset - PAGE_SIZE) })}>
          ← Previous
        </button>
        <span data-testid="page-info" aria-live="polite">
          {count(first)}–{count(last)} of {count(total)}
        </span>
        <button type="button" data-testid="next-page" disabled={offset + PAGE_SIZE >= total} onClick={() => move({ offset: offset + PAGE_SIZE })}>
          Next →
        </button>
      </nav>
    </div>
  );
}
