// The token the page signs in with: kept in sessionStorage['leasehold.token'] (one tab, gone
// when it closes), never in a URL or a log. Signing out (or a 401) clears it and says why.

const KEY = 'leasehold.token';

type Listener = (token: string | null, reason: string | null) => void;
const listeners = new Set<Listener>();
let reason: string | null = null;

export function storedToken(): string | null {
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null; // storage disabled: the prompt asks again
  }
}

export function signIn(token: string) {
  sessionStorage.setItem(KEY, token);
  reason = null;
  for (const listener of [...listeners]) listener(token, null);
}

/** Forgets the token; `why` is shown on the prompt (a refused token), null for a plain sign-out. */
export function signOut(why: string | null) {
  try {
    sessionStorage.removeItem(KEY);
  } catch {
    // nothing kept
  }
  reason = why;
  for (const listener of [...listeners]) listener(null, why);
}

export const signOutReason = () => reason;

export function onSession(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
