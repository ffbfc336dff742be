// The token prompt: the page asks for a bearer token once, checks it with GET /v1/whoami, and
// keeps it for the tab (session.ts). A refused token stays on the prompt with the reason.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, errorText } from './api.js';
import { useTitle } from './router.js';
import type { WhoAmI } from './types.js';

export function SignIn({ reason, accepted }: { reason: string | null; accepted: (token: string, who: WhoAmI) => void }) {
  useTitle('Sign in — leasehold');
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(reason);
  const [busy, setBusy] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), []);

  const submit = async () => {
    const given = token.trim();
    if (given === '') return setError('Enter a token.');
    setBusy(true);
    try {
      const who = await api.whoami(given);
      accepted(given, who);
    } catch (failure) {
      setError(failure instanceof ApiError && failure.status === 401 ? 'The server refused this token.' : `The server could not check the token: ${errorText(failure)}`);
      setBusy(false);
      input.current?.select();
    }
  };

  return (
    <main class="signin">
      <form
        class="signin-card"
        data-testid="token-form"
        onSubmit={(event) => {
          event.preventDefault();
          void submit();
        }}
      >
        <p class="brand-large">leasehold</p>
        <h1>Sign in</h1>
        <p class="muted">
          Paste a bearer token: the admin token <code>leasehold serve</code> printed, or an agent or viewer token minted with <code>leasehold agent add</code>. It is kept
          for this tab only.
        </p>
        <label class="field block">
          <span>Token</span>
          <input ref={input} name="token" type="password" autocomplete="off" spellcheck={false} value={token} onInput={(e) => setToken(e.currentTarget.value)} aria-invalid={error !== null} />
        </label>
        {error && (
          <p class="error-note" role="alert" data-testid="token-error">
            {error}
          </p>
        )}
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Checking…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
