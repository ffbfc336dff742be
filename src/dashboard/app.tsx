// The page shell: the token prompt until a token is accepted, then the header (nav, live
// status, role, sign out) and the view of the current hash route. Starts the live state
// (event stream, stats) while signed in.
import { useEffect, useState } from 'preact/hooks';
import { Agents } from './agents.js';
import { api, ApiError, errorText } from './api.js';
import { Lifecycle } from './lifecycle.js';
import { startLive, stopLive, useLive } from './live.js';
import { RoleContext } from './role.js';
import { useRoute, useTitle, type Route } from './router.js';
import { onSession, signIn, signOut, signOutReason, storedToken } from './session.js';
import { SignIn } from './signin.js';
import { TaskPageView } from './task-page.js';
import { Tasks } from './tasks.js';
import type { WhoAmI } from './types.js';
import { ErrorNote } from './ui.js';

const STATUS_TEXT = { open: 'live', connecting: 'connecting…', closed: 'offline' } as const;

function Header({ who, route }: { who: WhoAmI; route: Route }) {
  const { status } = useLive();
  const current = (view: Route['view'] | Route['view'][]) => ([view].flat().includes(route.view) ? 'page' : undefined);
  return (
    <header class="top">
      <a class="brand" href="#/">
        leasehold
      </a>
      <nav aria-label="views">
        <a href="#/" aria-current={current('lifecycle')}>
          Lifecycle
        </a>
        <a href="#/tasks" aria-current={current(['tasks', 'task'])}>
          Tasks
        </a>
        <a href="#/agents" aria-current={current('agents')}>
          Agents
        </a>
      </nav>
      <div class="top-right">
        <span class={`live live-${status}`} data-testid="live" data-status={status} title="the lifecycle event stream">
          <span class="live-dot" aria-hidden="true" />
          {STATUS_TEXT[status]}
        </span>
        <span class="role" title={who.owner ? `token of ${who.owner}` : 'the admin token'}>
          <span data-testid="role">{who.role}</span>
          {who.owner && <span class="muted"> · {who.owner}</span>}
        </span>
        <button type="button" class="quiet small" onClick={() => signOut(null)}>
          Sign out
        </button>
      </div>
    </header>
  );
}

function NotFound({ hash }: { hash: string }) {
  useTitle('Not found — leasehold');
  return (
    <div>
      <h1>Nothing here</h1>
      <p class="muted">
        No view at <code>{hash}</code>. Go to the <a href="#/">lifecycle</a>, the <a href="#/tasks">tasks</a> or the <a href="#/agents">agents</a>.
      </p>
    </div>
  );
}

function View({ route }: { route: Route }) {
  switch (route.view) {
    case 'lifecycle':
      return <Lifecycle />;
    case 'tasks':
      return <Tasks query={route.query} />;
    case 'task':
      return <TaskPageView key={route.id} id={route.id} />;
    case 'agents':
      return <Agents />;
    default:
      return <NotFound hash={route.hash} />;
  }
}

export function App() {
  const route = useRoute();
  const [token, setToken] = useState(storedToken);
  const [who, setWho] = useState<WhoAmI | null>(null);
  const [reason, setReason] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(
    () =>
      onSession((next, why) => {
        setToken(next);
        setReason(why);
        if (next === null) setWho(null);
      }),
    [],
  );

  // A token kept from earlier in this tab: ask the server what it is.
  useEffect(() => {
    if (token === null || who !== null) return;
    api.whoami().then(setWho, (failure: unknown) => {
      if (failure instanceof ApiError && failure.status === 401) return; // signed out by the call
      setError(`The server could not be reached: ${errorText(failure)}`);
    });
  }, [token, who]);

  useEffect(() => {
    if (token === null || who === null) return;
    startLive();
    return stopLive;
  }, [token, who]);

  if (token === null) {
    return (
      <SignIn
        reason={reason ?? signOutReason()}
        accepted={(given, identity) => {
          setWho(identity);
          signIn(given);
        }}
      />
    );
  }
  if (who === null) {
    return <main class="loading">{error ? <ErrorNote>{error}</ErrorNote> : <p class="muted">Signing in…</p>}</main>;
  }
  return (
    <RoleContext.Provider value={who.role}>
      <Header who={who} route={route} />
      <main class="content" id="main">
        <View route={route} />
      </main>
    </RoleContext.Provider>
  );
}
