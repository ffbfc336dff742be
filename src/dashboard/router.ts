// Hash routes (shareable URLs): `#/`, `#/tasks?filters`, `#/tasks/<encoded id>`, `#/agents`.
// `go` moves to a route; with `replace` (typing in a filter) it rewrites the current history
// entry instead of adding one.
import { useEffect, useState } from 'preact/hooks';

export type Route =
  | { view: 'lifecycle' }
  | { view: 'tasks'; query: URLSearchParams }
  | { view: 'task'; id: string }
  | { view: 'agents' }
  | { view: 'unknown'; hash: string };

export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, '') || '/';
  const [pathname = '/', search = ''] = path.split(/\?(.*)/s, 2);
  if (pathname === '/' || pathname === '') return { view: 'lifecycle' };
  if (pathname === '/tasks' || pathname === '/tasks/') return { view: 'tasks', query: new URLSearchParams(search) };
  if (pathname.startsWith('/tasks/')) {
    try {
      return { view: 'task', id: decodeURIComponent(pathname.slice('/tasks/'.length)) };
    } catch {
      return { view: 'unknown', hash };
    }
  }
  if (pathname === '/agents') return { view: 'agents' };
  return { view: 'unknown', hash };
}

/** `#/tasks?state=leased`: empty values left out. */
export function tasksHash(query: Record<string, string | number | undefined>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined && value !== '' && !(key === 'offset' && value === 0)) params.set(key, String(value));
  const text = params.toString();
  return text ? `#/tasks?${text}` : '#/tasks';
}

export const taskHash = (id: string) => `#/tasks/${encodeURIComponent(id)}`;

const ROUTED = 'leasehold:route';

export function go(hash: string, replace = false) {
  if (location.hash === hash) return;
  if (replace) {
    history.replaceState(history.state, '', hash);
    window.dispatchEvent(new Event(ROUTED));
  } else {
    location.hash = hash;
  }
}

export function useRoute(): Route {
  const [route, set] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const onChange = () => set(parseRoute(location.hash));
    window.addEventListener('hashchange', onChange);
    window.addEventListener(ROUTED, onChange);
    return () => {
      window.removeEventListener('hashchange', onChange);
      window.removeEventListener(ROUTED, onChange);
    };
  }, []);
  return route;
}

/** Sets the document's title for a view while it is shown. */
export function useTitle(title: string) {
  useEffect(() => {
    document.title = title;
  }, [title]);
}
