// The page's live state, shared by every view: the event stream's status, the latest stats
// (refetched after events, at most 4 times a second, and every few seconds anyway), the
// server clock's offset, the samples the chart draws, and a listener list for views that
// reload on events. Ephemeral: it starts empty with each page load.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, errorText } from './api.js';
import type { Sample } from './chart-data.js';
import { openStream, type LiveStatus } from './events.js';
import type { LifecycleEvent, Stats } from './types.js';

export type { Sample };

export interface LiveState {
  status: LiveStatus;
  stats: Stats | null;
  statsError: string | null;
  /** Server clock minus this browser's, measured at the last stats read (stats.at − Date.now()). */
  offset: number;
  samples: Sample[];
}

const STATS_MIN_GAP_MS = 250; // ≤ 4 refetches a second
const STATS_POLL_MS = 3_000; // counts that move with time alone (expiring soon), and the chart's idle seconds
const SAMPLES_KEPT_MS = 6 * 60_000;

let state: LiveState = { status: 'closed', stats: null, statsError: null, offset: 0, samples: [] };
const watchers = new Set<(state: LiveState) => void>();
const eventListeners = new Set<(event: LifecycleEvent | null) => void>();

function update(patch: Partial<LiveState>) {
  state = { ...state, ...patch };
  for (const watcher of [...watchers]) watcher(state);
}

let lastRead = 0;
let pending: ReturnType<typeof setTimeout> | undefined;
let inFlight = false;
let again = false;

async function readStats() {
  if (inFlight) {
    again = true;
    return;
  }
  inFlight = true;
  lastRead = Date.now();
  try {
    const stats = await api.stats();
    const sum = Object.values(stats.events).reduce((a, b) => a + b, 0);
    const sample: Sample = { at: stats.at, calls: sum, expiries: stats.events.expired ?? 0, reclaims: stats.reclaims };
    const samples = state.samples.filter((s) => s.at > stats.at - SAMPLES_KEPT_MS && s.at < stats.at);
    samples.push(sample);
    update({ stats, statsError: null, offset: stats.at - Date.now(), samples });
  } catch (error) {
    update({ statsError: errorText(error) });
  } finally {
    inFlight = false;
    if (again) {
      again = false;
      scheduleStats();
    }
  }
}

/** A stats read soon: coalesced, and never sooner than 250 ms after the last. */
export function scheduleStats() {
  if (pending !== undefined) return;
  const wait = Math.max(0, lastRead + STATS_MIN_GAP_MS - Date.now());
  pending = setTimeout(() => {
    pending = undefined;
    void readStats();
  }, wait);
}

let stopStream: (() => void) | undefined;
let poll: ReturnType<typeof setInterval> | undefined;

/** Opens the stream and starts reading stats (after signing in). */
export function startLive() {
  stopLive();
  update({ status: 'connecting', stats: null, statsError: null, samples: [] });
  stopStream = openStream({
    event(event) {
      scheduleStats();
      for (const listener of [...eventListeners]) listener(event);
    },
    reset() {
      scheduleStats();
      for (const listener of [...eventListeners]) listener(null);
    },
    status: (status) => update({ status }),
  });
  void readStats();
  poll = setInterval(scheduleStats, STATS_POLL_MS);
}

export function stopLive() {
  stopStream?.();
  stopStream = undefined;
  if (poll !== undefined) clearInterval(poll);
  if (pending !== undefined) clearTimeout(pending);
  poll = undefined;
  pending = undefined;
  update({ status: 'closed' });
}

export function useLive(): LiveState {
  const [current, set] = useState(state);
  useEffect(() => {
    watchers.add(set);
    set(state);
    return () => void watchers.delete(set);
  }, []);
  return current;
}

/** The server's clock now, as far as the last stats read tells. */
export const serverNow = () => Date.now() + state.offset;

/** The server's clock, ticking every `everyMs` while mounted (for countdowns). */
export function useServerNow(everyMs = 1000): number {
  const [now, set] = useState(serverNow);
  useEffect(() => {
    const timer = setInterval(() => set(serverNow()), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  return now;
}

const always = () => true;

/**
 * Calls `reload` after lifecycle events that `matters` (all by default; null is a stream
 * reset, which always matters), at most once every `gapMs`. The latest `reload` and `matters`
 * are used, so re-renders (a countdown ticking) never drop a reload that is waiting.
 */
export function useEventReload(reload: () => void, gapMs: number, matters: (event: LifecycleEvent) => boolean = always) {
  const latest = useRef({ reload, matters });
  latest.current = { reload, matters };
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let last = 0;
    const listener = (event: LifecycleEvent | null) => {
      if (event !== null && !latest.current.matters(event)) return;
      if (timer !== undefined) return;
      timer = setTimeout(() => {
        timer = undefined;
        last = Date.now();
        latest.current.reload();
      }, Math.max(0, last + gapMs - Date.now()));
    };
    eventListeners.add(listener);
    return () => {
      eventListeners.delete(listener);
      if (timer !== undefined) clearTimeout(timer);
    };
  }, [gapMs]);
}
