import { useState } from "react";
import { ApiError, send } from "../api/client";
import type { Session } from "../api/types";

// The key is sent once to open a session; it is never stored in the browser
// (the form is cleared and the session lives in an HttpOnly cookie).
export function Login({ onLoggedIn, reason }: { onLoggedIn: (session: Session) => void; reason: string | null }): JSX.Element {
  const [key, setKey] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      const session = await send<Session>("POST", "/api/session", { api_key: key.trim() });
      setKey("");
      onLoggedIn(session);
    } catch (caught) {
      setError(caught instanceof ApiError ? caught.message : "the API cannot be reached");
    } finally {
      setBusy(false);
    }
  };

  return (
    <main className="login">
      <h1>Autopack console</h1>
      <p>Sign in with your principal's API key. It opens a session and is not kept in this browser.</p>
      {reason ? (
        <p className="notice" role="status">
          {reason}
        </p>
      ) : null}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
        aria-label="Sign in"
      >
        <label>
          API key
          <input
            type="password"
            autoComplete="off"
            value={key}
            onChange={(e) => setKey(e.target.value)}
            required
            aria-describedby={error ? "login-error" : undefined}
          />
        </label>
        <button type="submit" className="primary" disabled={busy || !key.trim()}>
          Sign in
        </button>
      </form>
      {error ? (
        <p id="login-error" className="state state-error" role="alert">
          {error}
        </p>
      ) : null}
    </main>
  );
}
