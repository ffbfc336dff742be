// One task's page (`#/tasks/<id>`): its state, lease (countdown, grace, renewals), progress
// history (heartbeats still in the server's ring), the recovery hand-off, the compensation
// ledger, and its story as a timeline (audit merged with ring events); the admin's actions.
// Reloads on the task's own live events, at most twice a second.
import type { ComponentChildren } from 'preact';
import { useCallback, useContext, useEffect, useRef, useState } from 'preact/hooks';
import { TaskActions } from './actions.js';
import { api, ApiError, errorText } from './api.js';
import { clock, count, duration, pretty, relative, timeOfDay, timestamp } from './format.js';
import { useEventReload, useServerNow } from './live.js';
import { RoleContext } from './role.js';
import { useTitle } from './router.js';
import { mergeTimeline } from './timeline.js';
import type { LifecycleEvent, Task } from './types.js';
import { Countdown, ErrorNote, Panel, ProgressBar } from './ui.js';

function Facts({ rows }: { rows: [string, ComponentChildren][] }) {
  return (
    <dl class="facts">
      {rows.map(([term, value]) => (
        <div key={term}>
          <dt>{term}</dt>
          <dd>{value}</dd>
        </div>
      ))}
    </dl>
  );
}

function LeasePanel({ task, now }: { task: Task; now: number }) {
  const lease = task.lease;
  const live = lease && (task.state === 'leased' || task.state === 'stale');
  return (
    <Panel title="Lease" testid="lease">
      {!lease ? (
        <p class="muted">No lease: {task.state === 'planned' ? 'waiting for a claim' : 'the task is not held'}.</p>
      ) : (
        <Facts
          rows={[
            ['Owner', <span>{lease.owner}</span>],
            ['Epoch', <span class="mono">{lease.epoch}</span>],
            ['Time left', live ? <Countdown lease={lease} now={now} /> : <span class="muted">ended</span>],
            ['Expires', `${timestamp(lease.expiresAt)} (${relative(lease.expiresAt, now)})`],
            ['Grace', lease.graceEndsAt !== null ? `ends ${timestamp(lease.graceEndsAt)} (${clock(lease.graceEndsAt - now)} left)` : `${duration(lease.graceMs)} after expiry`],
            ['Renewals', `${lease.renewals} of ${task.limits.maxRenewals}${lease.lateHeartbeats ? ` · ${lease.lateHeartbeats} late` : ''}`],
            ['Last heartbeat', lease.heartbeatAt ? `${timestamp(lease.heartbeatAt)} (${relative(lease.heartbeatAt, now)})` : '—'],
            ['Acquired', timestamp(lease.acquiredAt)],
            ['Lease length', duration(lease.leaseMs)],
            ['Grace extensions', Object.keys(lease.graceExtensions).length ? Object.entries(lease.graceExtensions).map(([why, n]) => `${why} ×${n}`).join(', ') : 'none'],
          ]}
        />
      )}
    </Panel>
  );
}

/** Progress over time from the heartbeats: a small step line, 0–100 %. */
function ProgressLine({ beats }: { beats: { at: number; progress: number }[] }) {
  const W = 320;
  const H = 64;
  const first = beats[0]!.at;
  const span = Math.max(1, beats.at(-1)!.at - first);
  const x = (at: number) => 4 + ((at - first) / span) * (W - 8);
  const y = (progress: number) => H - 4 - (Math.max(0, Math.min(100, progress)) / 100) * (H - 8);
  const points = beats.map((beat, index) => (index === 0 ? `M${x(beat.at).toFixed(1)},${y(beat.progress).toFixed(1)}` : `H${x(beat.at).toFixed(1)} V${y(beat.progress).toFixed(1)}`)).join(' ');
  return (
    <svg class="progress-line" viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`progress from ${beats[0]!.progress}% to ${beats.at(-1)!.progress}% over ${duration(span)}`}>
      <line x1="4" x2={W - 4} y1={y(100)} y2={y(100)} class="grid" />
      <line x1="4" x2={W - 4} y1={y(0)} y2={y(0)} class="grid" />
      <path d={points} />
      {beats.map((beat, index) => (
        <circle key={index} cx={x(beat.at)} cy={y(beat.progress)} r="2.5" />
      ))}
    </svg>
  );
}

function ProgressPanel({ task, events }: { task: Task; events: LifecycleEvent[] | null }) {
  const beats = (events ?? []).filter((event): event is Extract<LifecycleEvent, { type: 'heartbeat' }> => event.type === 'heartbeat');
  return (
    <Panel title="Progress" testid="progress-history">
      <div class="progress-now">
        <ProgressBar value={task.progress} />
        {task.message && <p class="message">“{task.message}”</p>}
      </div>
      {events === null ? (
        <p class="muted small">The server's recent events could not be read.</p>
      ) : beats.length === 0 ? (
        <p class="muted small">No heartbeat among the server's recent events.</p>
      ) : (
        <>
        {beats.length > 1 && <ProgressLine beats={beats} />}
        <table class="mini">
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">Owner · epoch</th>
              <th scope="col">Progress</th>
            </tr>
          </thead>
          <tbody>
            {beats.slice(-20).map((beat, index) => (
              <tr key={index} data-at={beat.at}>
                <td class="mono">{timeOfDay(beat.at)}</td>
                <td>
                  {beat.owner} <span class="muted">· e{beat.epoch}</span>
                  {beat.late && <span class="tag tag-warn">late</span>}
                </td>
                <td>
                  <ProgressBar value={beat.progress} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        </>
      )}
      {beats.length > 20 && <p class="muted small">The last 20 of {beats.length} heartbeats.</p>}
    </Panel>
  );
}

function HandOff({ task }: { task: Task }) {
  const recovery = task.recovery!;
  return (
    <Panel title="Recovery hand-off" testid="handoff">
      <Facts
        rows={[
          ['From', <span>{recovery.previousOwner} <span class="muted">· epoch {recovery.previousEpoch}</span></span>],
          ['Why', recovery.reason],
          ['Progress then', <ProgressBar value={recovery.progress} />],
          ['Message', recovery.message ?? '—'],
          ['Time spent', duration(recovery.timeSpentMs)],
        ]}
      />
      <pre class="handoff-text">{recovery.instructions}</pre>
    </Panel>
  );
}

function Ledger({ task }: { task: Task }) {
  return (
    <Panel title="Compensation ledger" testid="ledger">
      {task.compensations.length === 0 ? (
        <p class="muted">No compensation registered.</p>
      ) : (
        <table class="mini">
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">Action</th>
              <th scope="col">Status</th>
              <th scope="col">Attempts</th>
              <th scope="col">Registered by</th>
              <th scope="col">Last error</th>
            </tr>
          </thead>
          <tbody>
            {task.compensations.map((entry) => (
              <tr key={entry.seq} data-seq={entry.seq}>
                <td class="num">{entry.seq}</td>
                <td class="mono" title={JSON.stringify(entry.args)}>
                  {entry.action}
                </td>
                <td data-col="status">
                  <span class={`chip comp-${entry.status}`}>{entry.status}</span>
                </td>
                <td class="num">{entry.attempts}</td>
                <td>{entry.owner ? `${entry.owner} · e${entry.epoch}` : <span class="muted">at creation</span>}</td>
                <td class="small">{entry.lastError ?? <span class="muted">—</span>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Panel>
  );
}

function Timeline({ task, events }: { task: Task; events: LifecycleEvent[] | null }) {
  const entries = mergeTimeline(task.audit, events ?? []);
  return (
    <Panel title="Timeline" testid="timeline">
      <ol class="timeline">
        {entries.map((entry, index) => (
          <li key={index} data-event={entry.event} class={`tl-${entry.source}`}>
            <span class="tl-time mono" title={timestamp(entry.at)}>
              {timeOfDay(entry.at)}
            </span>
            <span class="tl-event">{entry.event}</span>
            {entry.owner !== null && (
              <span class="tl-owner">
                {entry.owner}
                {entry.epoch !== null && <span class="muted"> · e{entry.epoch}</span>}
              </span>
            )}
            {entry.detail && <span class="tl-detail">{entry.detail}</span>}
          </li>
        ))}
      </ol>
      <p class="muted small">From the task's audit (kept with the task) and the server's recent events (marked ◦).</p>
    </Panel>
  );
}

export function TaskPageView({ id }: { id: string }) {
  useTitle(`Task ${id} — leasehold`);
  const role = useContext(RoleContext);
  const [task, setTask] = useState<Task | null>(null);
  const [events, setEvents] = useState<LifecycleEvent[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const now = useServerNow();

  /** The latest load: an answer overtaken by a newer one is dropped. */
  const latest = useRef(0);
  const load = useCallback(() => {
    const mine = ++latest.current;
    api.task(id).then(
      (answer) => {
        if (mine !== latest.current) return;
        setTask(answer);
        setError(null);
      },
      (failure: unknown) => {
        if (mine !== latest.current) return;
        setError(failure instanceof ApiError && failure.code === 'TASK_NOT_FOUND' ? `No task ${JSON.stringify(id)} in this supervisor.` : errorText(failure));
        setTask(null);
      },
    );
    api.taskEvents(id).then(
      (answer) => mine === latest.current && setEvents(answer.events.map((item) => item.event)),
      () => mine === latest.current && setEvents(null),
    );
  }, [id]);
  useEffect(() => {
    setTask(null);
    load();
  }, [load]);
  const mine = useCallback((event: LifecycleEvent) => event.taskId === id, [id]);
  useEventReload(load, 500, mine);

  if (!task) {
    return (
      <div class="task-page">
        <p class="crumbs">
          <a href="#/tasks">← Tasks</a>
        </p>
        {error ? <ErrorNote>{error}</ErrorNote> : <p class="muted">Loading {id}…</p>}
      </div>
    );
  }
  return (
    <div class="task-page" data-testid="task-page" data-task-id={task.id}>
      <p class="crumbs">
        <a href="#/tasks">← Tasks</a>
      </p>
      <div class="page-head">
        <h1 class="mono">{task.id}</h1>
        <span data-testid="task-state" class={`chip state-${task.state}`}>
          {task.substate}
        </span>
        {role === 'admin' && <TaskActions id={task.id} done={load} />}
      </div>
      {error && <ErrorNote>{error}</ErrorNote>}
      <Facts
        rows={[
          ['Priority', task.priority],
          ['Labels', task.labels.length ? task.labels.join(', ') : '—'],
          ['Attempts', `${task.attempts} of ${task.limits.maxAttempts}`],
          ['Expiries', `${task.staleCount} of ${task.limits.maxStale}`],
          ['Created', timestamp(task.createdAt)],
          ['Not before', task.notBefore !== null ? `${timestamp(task.notBefore)} (${relative(task.notBefore, now)})` : '—'],
        ]}
      />
      <div class="grid-2">
        <LeasePanel task={task} now={now} />
        <ProgressPanel task={task} events={events} />
      </div>
      {task.recovery && <HandOff task={task} />}
      {(task.failure || task.terminal) && (
        <Panel title={task.terminal ? `Ended: ${task.terminal.state}` : 'Last failure'}>
          <Facts
            rows={[
              ...(task.terminal ? ([['At', timestamp(task.terminal.at)], ['By', task.terminal.by ?? '—'], ['Reason', task.terminal.reason ?? '—']] as [string, string][]) : []),
              ...(task.failure ? ([['Failure', `${task.failure.error} (${task.failure.owner} · e${task.failure.epoch}${task.failure.retryable ? ', retryable' : ''})`]] as [string, string][]) : []),
            ]}
          />
          {task.terminal?.result !== undefined && task.terminal?.result !== null && <pre class="json">{pretty(task.terminal.result)}</pre>}
        </Panel>
      )}
      <Ledger task={task} />
      <Timeline task={task} events={events} />
      <div class="grid-2">
        <Panel title="Metadata">
          <pre class="json">{Object.keys(task.metadata).length ? pretty(task.metadata) : '{}'}</pre>
        </Panel>
        <Panel title="Spec">
          <pre class="json">{pretty(task.spec)}</pre>
        </Panel>
      </div>
      <p class="muted small">{count(task.audit.length)} audit entries.</p>
    </div>
  );
}
