// How the dashboard writes times, durations and numbers: pure functions, no DOM.

/** `1:05`, `12:00`, `1:02:03`; negative durations read as `0:00`. */
export function clock(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const mm = h > 0 ? String(m).padStart(2, '0') : String(m);
  return `${h > 0 ? `${h}:` : ''}${mm}:${String(s).padStart(2, '0')}`;
}

/** `450 ms`, `12 s`, `3 min`, `2 h 5 min`, `3 d 4 h`. */
export function duration(ms: number): string {
  const abs = Math.abs(ms);
  if (abs < 1000) return `${Math.round(abs)} ms`;
  if (abs < 60_000) return `${Math.round(abs / 1000)} s`;
  if (abs < 3_600_000) return `${Math.round(abs / 60_000)} min`;
  if (abs < 86_400_000) {
    const h = Math.floor(abs / 3_600_000);
    const m = Math.round((abs % 3_600_000) / 60_000);
    return m > 0 ? `${h} h ${m} min` : `${h} h`;
  }
  const d = Math.floor(abs / 86_400_000);
  const h = Math.round((abs % 86_400_000) / 3_600_000);
  return h > 0 ? `${d} d ${h} h` : `${d} d`;
}

/** `12 s ago` / `in 3 min`, relative to `now`. */
export function relative(at: number, now: number): string {
  const ms = at - now;
  if (Math.abs(ms) < 1000) return 'just now';
  return ms < 0 ? `${duration(ms)} ago` : `in ${duration(ms)}`;
}

/** A local date and time to the second: `2026-01-01 12:00:05`. */
export function timestamp(at: number): string {
  const d = new Date(at);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** A time of day, with milliseconds when two entries could share a second: `12:00:05.123`. */
export function timeOfDay(at: number): string {
  const d = new Date(at);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

const numbers = new Intl.NumberFormat('en');
export const count = (n: number) => numbers.format(n);

/** JSON for reading: indented, or `—` for null. */
export const pretty = (value: unknown) => (value === null || value === undefined ? '—' : JSON.stringify(value, null, 2));
