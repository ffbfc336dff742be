// The lifecycle view (`#/`): the machine's diagram with the live count of tasks in each state
// (click or Enter on a state filters the task table), the counters beside it, the chart of
// calls/s, expiries and reclaims, and the states as a plain list of links.
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { TASK_STATES } from '../../machines/task.types.js';
import { api, errorText } from './api.js';
import { Chart } from './chart.js';
import { inlineDiagram, stateHash, updateBadges, type Badge } from './diagram.js';
import { count } from './format.js';
import { useLive, useServerNow } from './live.js';
import { go, useTitle } from './router.js';
import type { Stats } from './types.js';
import { ErrorNote, Panel } from './ui.js';

/** The diagram is drawn once per server; fetched once per page load. */
let diagramText: Promise<string> | undefined;

const COUNTERS: { name: string; label: string; hint: string; value: (stats: Stats) => number; warn?: boolean }[] = [
  { name: 'total', label: 'Tasks', hint: 'in the store', value: (s) => s.total },
  { name: 'expiringSoon', label: 'Expiring soon', hint: 'leases ending within the window', value: (s) => s.expiringSoon },
  { name: 'stuck', label: 'Stuck', hint: 'leases that reached their renewal limit', value: (s) => s.stuck, warn: true },
  { name: 'lateHeartbeats', label: 'Late heartbeats', hint: 'accepted during grace', value: (s) => s.lateHeartbeats },
  { name: 'graceExtensions', label: 'Grace extensions', hint: 'granted by the lease policy', value: (s) => s.graceExtensions.total },
  { name: 'reclaims', label: 'Reclaims', hint: 'expired leases taken over', value: (s) => s.reclaims },
  { name: 'spuriousReclaims', label: 'Spurious reclaims', hint: 'the previous holder was alive', value: (s) => s.spuriousReclaims, warn: true },
  { name: 'quarantined', label: 'Quarantined', hint: 'tasks set aside', value: (s) => s.byState.quarantined, warn: true },
];

function Diagram({ stats }: { stats: Stats | null }) {
  const box = useRef<HTMLDivElement>(null);
  const badges = useRef<Badge[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [ready, setReady] = useState(false);
  // The stats of the latest render: the badges are filled with them as soon as the SVG is in.
  const latest = useRef(stats);
  latest.current = stats;

  useEffect(() => {
    let live = true;
    diagramText ??= api.diagram();
    diagramText.then(
      (text) => {
        if (!live) return;
        try {
          badges.current = inlineDiagram(box.current!, text, (path) => go(stateHash(path)));
          if (latest.current) updateBadges(badges.current, latest.current);
          setReady(true);
        } catch (failure) {
          setError(errorText(failure));
        }
      },
      (failure: unknown) => {
        diagramText = undefined;
        if (live) setError(`The diagram could not be loaded: ${errorText(failure)}`);
      },
    );
    return () => void (live = false);
  }, []);

  // A layout effect: the badges change in the same frame as the counters beside them.
  useLayoutEffect(() => {
    if (ready && stats) updateBadges(badges.current, stats);
  }, [ready, stats]);

  return (
    <>
      {error && <ErrorNote>{error}</ErrorNote>}
      <div class="diagram" data-testid="diagram" ref={box} aria-busy={!ready} />
    </>
  );
}

function Counters({ stats }: { stats: Stats | null }) {
  return (
    <div class="counters">
      {COUNTERS.map((counter) => {
        const value = stats ? counter.value(stats) : null;
        return (
          <div key={counter.name} class={`counter${counter.warn && value ? ' counter-warn' : ''}`} title={counter.hint}>
            <span class="counter-label">{counter.label}</span>
            <span class="counter-value" data-testid={`counter-${counter.name}`}>
              {value === null ? '…' : value}
            </span>
          </div>
        );
      })}
    </div>
  );
}

function StateList({ stats }: { stats: Stats | null }) {
  return (
    <ul class="state-list">
      {TASK_STATES.map((state) => (
        <li key={state}>
          <a href={stateHash(state)}>
            <span class={`dot state-${state}`} aria-hidden="true" />
            <span class="state-name">{state}</span>
            <span class="state-count">{stats ? count(stats.byState[state]) : '…'}</span>
          </a>
        </li>
      ))}
    </ul>
  );
}

export function Lifecycle() {
  useTitle('Lifecycle — leasehold');
  const { stats, statsError, samples } = useLive();
  const now = useServerNow(5000);
  return (
    <div class="lifecycle">
      <Panel title="Task lifecycle">
        <p class="muted small">Each state shows how many tasks are in it now. Select a state to list its tasks.</p>
        <Diagram stats={stats} />
      </Panel>
      <div class="side">
        {statsError && <ErrorNote>Stats could not be read: {statsError}</ErrorNote>}
        <Panel title="Counters">
          <Counters stats={stats} />
        </Panel>
        <Panel title="Activity, last 5 minutes">
          <Chart samples={samples} now={stats?.at ?? now} />
        </Panel>
        <Panel title="By state">
          <StateList stats={stats} />
        </Panel>
      </div>
    </div>
  );
}
