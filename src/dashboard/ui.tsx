// Small pieces every view uses: a state chip in the diagram's colors, a progress bar, a lease
// countdown on the server's clock, an error note, and a panel.
import type { ComponentChildren } from 'preact';
import { clock } from './format.js';
import type { Lease } from './types.js';

export function StateChip({ substate }: { substate: string }) {
  const state = substate.split('.')[0];
  return <span class={`chip state-${state}`}>{substate}</span>;
}

export function ProgressBar({ value, label = true }: { value: number; label?: boolean }) {
  const pct = Math.max(0, Math.min(100, value));
  return (
    <span class="progress" role="progressbar" aria-valuemin={0} aria-valuemax={100} aria-valuenow={pct} aria-label={`progress ${pct}%`}>
      <span class="progress-track">
        <span class="progress-fill" style={{ width: `${pct}%` }} />
      </span>
      {label && <span class="progress-text">{pct}%</span>}
    </span>
  );
}

/**
 * Time left on a lease, on the server's clock: until expiry while leased, until grace ends
 * while stale (marked), `expired` once both have passed.
 */
export function Countdown({ lease, now }: { lease: Lease; now: number }) {
  const inGrace = lease.graceEndsAt !== null;
  const until = inGrace ? lease.graceEndsAt! : lease.expiresAt;
  const left = until - now;
  const tone = inGrace ? 'grace' : left <= 0 ? 'over' : left < 30_000 ? 'soon' : 'ok';
  return (
    <span data-testid="countdown" class={`countdown countdown-${tone}`} title={inGrace ? 'grace left before the task can be reclaimed' : 'time left on the lease'}>
      {left <= 0 ? 'expired' : `${inGrace ? 'grace ' : ''}${clock(left)}`}
    </span>
  );
}

export function ErrorNote({ children }: { children: ComponentChildren }) {
  return (
    <p class="error-note" role="alert">
      {children}
    </p>
  );
}

export function Panel({ title, children, testid, actions }: { title: string; children: ComponentChildren; testid?: string; actions?: ComponentChildren }) {
  return (
    <section class="panel" data-testid={testid} aria-label={title}>
      <header class="panel-head">
        <h2>{title}</h2>
        {actions}
      </header>
      {children}
    </section>
  );
}
