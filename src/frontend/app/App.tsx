import { useCallback, useEffect, useMemo, useState } from "react";
import { ApiError, getJson, send } from "../api/client";
import type { Session } from "../api/types";
import { ErrorView, Loading } from "../components/States";
import { Login } from "../views/Login";
import { MODULES, type ConsoleModule } from "./modules";
import { SessionContext, can } from "./session";

function currentId(): string {
  return window.location.hash.replace(/^#\/?/, "").split("/")[0] ?? "";
}

export function App(): JSX.Element {
  const [session, setSession] = useState<Session | null>(null);
  const [checking, setChecking] = useState(true);
  const [fatal, setFatal] = useState<ApiError | null>(null);
  const [loginReason, setLoginReason] = useState<string | null>(null);
  const [route, setRoute] = useState(currentId());

  useEffect(() => {
    const onHash = (): void => setRoute(currentId());
    window.addEventListener("hashchange", onHash);
    return () => window.removeEventListener("hashchange", onHash);
  }, []);

  useEffect(() => {
    // An existing session cookie (a reload) is resumed; 401 means: log in.
    getJson<Session>("/api/session")
      .then(setSession)
      .catch((caught: unknown) => {
        if (caught instanceof ApiError && caught.status !== 401) setFatal(caught);
      })
      .finally(() => setChecking(false));
  }, []);

  const expired = useCallback(() => {
    setSession(null);
    setLoginReason("Your session ended. Sign in again.");
  }, []);

  const offered = useMemo<ConsoleModule[]>(
    () => (session ? MODULES.filter((m) => can(session, m.permission)) : []),
    [session],
  );

  if (checking) return <Loading what="the console" />;
  if (fatal) return <ErrorView error={fatal} />;
  if (!session) {
    return (
      <Login
        reason={loginReason}
        onLoggedIn={(s) => {
          setLoginReason(null);
          setSession(s);
        }}
      />
    );
  }

  const known = MODULES.find((m) => m.id === route);
  const active = known ?? offered[0];
  const logout = async (): Promise<void> => {
    try {
      await send("DELETE", "/api/session");
    } finally {
      setSession(null);
      setLoginReason("Signed out.");
    }
  };

  return (
    <SessionContext.Provider value={{ session, expired }}>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <h1>Autopack</h1>
        <nav aria-label="Console views">
          <ul>
            {offered.map((m) => (
              <li key={m.id}>
                <a href={`#/${m.id}`} aria-current={active?.id === m.id ? "page" : undefined}>
                  {m.title}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <p className="who">
          <span data-testid="who">
            {session.principal} ({session.role})
          </span>
          <button type="button" onClick={() => void logout()}>
            Sign out
          </button>
        </p>
      </header>
      <main id="main" tabIndex={-1}>
        {active === undefined ? (
          <p className="state">Your role has no console views.</p>
        ) : known && !can(session, known.permission) ? (
          <div className="state state-forbidden" role="alert">
            <h2>{known.title}: not allowed for your role</h2>
            <p>
              This view needs the <code>{known.permission}</code> permission; you are {session.principal} (
              {session.role}). The API refuses it whatever this page shows.
            </p>
          </div>
        ) : (
          <active.View key={active.id} />
        )}
      </main>
    </SessionContext.Provider>
  );
}
