import type { CredentialHealthAll } from "../api/types";
import { usePoll } from "../app/usePoll";
import { Empty, ErrorView, Loading } from "../components/States";
import { when } from "../components/format";

// Health only: the API never returns secret material, and this view shows none.
export function Credentials(): JSX.Element {
  const polled = usePoll<CredentialHealthAll>("/api/auth/oauth/health", 15000);
  if (polled.loading) return <Loading what="credential health" />;
  if (polled.error && !polled.data) return <ErrorView error={polled.error} />;
  const health = polled.data;
  if (!health) return <Empty>No answer.</Empty>;
  return (
    <section aria-labelledby="credentials-title" className="single">
      <h2 id="credentials-title">Credentials health</h2>
      <p>
        Overall: <span className={`status status-${health.status}`}>{health.status}</span>
      </p>
      {health.credentials.length === 0 ? (
        <Empty>No credentials are stored. Connect an account with `autopack credentials connect`.</Empty>
      ) : (
        <table className="table" aria-label="Credentials">
          <thead>
            <tr>
              <th scope="col">Provider</th>
              <th scope="col">Account</th>
              <th scope="col">Status</th>
              <th scope="col">Expires</th>
              <th scope="col">Last success</th>
              <th scope="col">Last error</th>
              <th scope="col">Failures</th>
            </tr>
          </thead>
          <tbody>
            {health.credentials.map((c) => (
              <tr key={`${c.provider}/${c.account}`}>
                <td>{c.provider}</td>
                <td>{c.account}</td>
                <td>
                  <span className={`status status-${c.status}`}>{c.status}</span>
                  {c.dispatch_paused ? " (dispatch paused)" : ""}
                </td>
                <td>{when(c.expires_at as string | null)}</td>
                <td>{when(c.last_success_at as string | null)}</td>
                <td>{(c.last_error_class as string | null) ?? "—"}</td>
                <td>{String(c.failure_count ?? 0)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

export const credentialsModule = {
  id: "credentials",
  title: "Credentials",
  permission: "credentials" as const,
  View: Credentials,
};
