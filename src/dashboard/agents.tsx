// The agents view (`#/agents`): every owner with a live agent token or seen in the tasks, its
// live leases (with countdowns), last heartbeat and last sign of life, and its counts.
// Reloads on live events, at most every 2 seconds.
import { useCallback, useEffect, useState } from 'preact/hooks';
import { api, errorText } from './api.js';
import { relative } from './format.js';
import { useEventReload, useServerNow } from './live.js';
import { taskHash, tasksHash, useTitle } from './router.js';
import type { AgentActivityRow } from './types.js';
import { Countdown, ErrorNote } from './ui.js';

/** Leases listed per agent; the rest are one link away (the task table filtered by owner). */
const LEASES_SHOWN = 6;

export function Agents() {
  useTitle('Agents — leasehold');
  const [rows, setRows] = useState<AgentActivityRow[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const now = useServerNow();
  const load = useCallback(() => {
    api.agents().then(
      (answer) => {
        setRows(answer);
        setError(null);
      },
      (failure: unknown) => setError(errorText(failure)),
    );
  }, []);
  useEffect(load, [load]);
  useEventReload(load, 2000);

  return (
    <div class="agents">
      <div class="page-head">
        <h1>Agents</h1>
        <span class="muted">{rows ? `${rows.length} ${rows.length === 1 ? 'agent' : 'agents'}` : 'loading…'}</span>
      </div>
      {error && <ErrorNote>{error}</ErrorNote>}
      <div class="table-wrap">
        <table class="agents-table" data-testid="agents-table">
          <thead>
            <tr>
              <th scope="col">Agent</th>
              <th scope="col">Live leases</th>
              <th scope="col">Last heartbeat</th>
              <th scope="col">Last seen</th>
              <th scope="col" class="num">Claims</th>
              <th scope="col" class="num">Completed</th>
              <th scope="col" class="num">Failed</th>
              <th scope="col" class="num">Released</th>
              <th scope="col" class="num">Reclaimed from</th>
            </tr>
          </thead>
          <tbody>
            {rows?.map((row) => (
              <tr key={row.owner} data-owner={row.owner}>
                <th scope="row">
                  {row.owner}
                  {row.token ? <span class="tag" title="has a live agent token">token</span> : <span class="tag tag-quiet" title="no live agent token (seen in the tasks only)">no token</span>}
                </th>
                <td>
                  {row.leases.length === 0 ? (
                    <span class="muted">none</span>
                  ) : (
                    <ul class="lease-list">
                      {row.leases.slice(0, LEASES_SHOWN).map((lease) => (
                        <li key={lease.taskId}>
                          <a class="mono" href={taskHash(lease.taskId)}>
                            {lease.taskId}
                          </a>{' '}
                          <span class="muted">e{lease.epoch}</span> <Countdown lease={lease} now={now} />
                        </li>
                      ))}
                      {row.leases.length > LEASES_SHOWN && (
                        <li>
                          <a href={tasksHash({ owner: row.owner })}>all {row.leases.length} leases →</a>
                        </li>
                      )}
                    </ul>
                  )}
                </td>
                <td>{row.lastHeartbeatAt !== null ? relative(row.lastHeartbeatAt, now) : <span class="muted">—</span>}</td>
                <td>{row.lastSeenAt !== null ? relative(row.lastSeenAt, now) : <span class="muted">—</span>}</td>
                <td class="num">{row.claims}</td>
                <td class="num">{row.completed}</td>
                <td class="num">{row.failed}</td>
                <td class="num">{row.released}</td>
                <td class={`num${row.reclaimedFrom ? ' warn' : ''}`}>{row.reclaimedFrom}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {rows && rows.length === 0 && <p class="empty">No agent yet: mint a token (leasehold agent add) or let one claim a task.</p>}
      </div>
    </div>
  );
}
