import { useEffect, useState } from "react";
import { ApiError, getJson, send } from "../api/client";
import type { PolicyAck, PolicyChange, PolicyDiff, PolicyStatusList, ProviderPolicy } from "../api/types";
import { can, useSession } from "../app/session";
import { usePoll } from "../app/usePoll";
import { Empty, ErrorView, Loading } from "../components/States";
import { UnifiedDiff } from "../components/UnifiedDiff";
import { short, when } from "../components/format";

const ATTENTION: Record<string, number> = { unacknowledged: 0, missing: 1, stale: 2, no_pages: 3, current: 4 };

function age(seconds: number | null): string {
  if (seconds === null) return "—";
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
  if (seconds < 172800) return `${Math.floor(seconds / 3600)} h`;
  return `${Math.floor(seconds / 86400)} days`;
}

function ChangeView({
  provider,
  change,
  onAcknowledged,
}: {
  provider: string;
  change: PolicyChange;
  onAcknowledged: (answer: PolicyAck) => void;
}): JSX.Element {
  const { session, expired } = useSession();
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);

  const acknowledge = async (): Promise<void> => {
    if (change.from_hash === null) return;
    setBusy(true);
    setError(null);
    try {
      const answer = await send<PolicyAck>("POST", `/api/policy/${encodeURIComponent(provider)}/ack`, {
        from_hash: change.from_hash,
        to_hash: change.to_hash,
      });
      setConfirming(false);
      onAcknowledged(answer);
    } catch (caught) {
      if (caught instanceof ApiError && caught.status === 401) expired();
      else if (caught instanceof ApiError) setError(caught);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="change" aria-label={`Pending change of ${change.url}`}>
      <h4>
        <code className="url">{change.url}</code>
      </h4>
      <p>
        From <code className="hash">{change.from_hash ?? "(no acknowledged snapshot)"}</code> to{" "}
        <code className="hash">{change.to_hash}</code>
      </p>
      <UnifiedDiff diff={change.diff} label={`Changes to ${change.url}`} />
      {error ? <ErrorView error={error} /> : null}
      {change.from_hash === null ? (
        <p className="note">No earlier snapshot to compare: acknowledge from the CLI ({change.ack_command}).</p>
      ) : !can(session, "decide") ? (
        <p className="note">Your role can read this change but not acknowledge it.</p>
      ) : confirming ? (
        <div className="confirm" role="alertdialog" aria-label="Confirm acknowledgement">
          <p>
            Acknowledge that you read this change of {provider}'s policy? Its held publish and list actions may then be sent.
          </p>
          <button type="button" className="primary" autoFocus disabled={busy} onClick={() => void acknowledge()}>
            Yes, acknowledge {short(change.to_hash, 8)}
          </button>
          <button type="button" onClick={() => setConfirming(false)}>
            Cancel
          </button>
        </div>
      ) : (
        <div className="decide">
          <button type="button" className="primary" onClick={() => setConfirming(true)}>
            Acknowledge change…
          </button>
        </div>
      )}
    </section>
  );
}

function PendingChanges({ policy, onAcknowledged }: { policy: ProviderPolicy; onAcknowledged: (answer: PolicyAck) => void }): JSX.Element {
  const { expired } = useSession();
  const [diff, setDiff] = useState<PolicyDiff | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  // Reload when a page's current snapshot changes (a new fetch happened).
  const version = policy.pages.map((p) => `${p.current_hash}/${p.acknowledged_hash}`).join(",");

  useEffect(() => {
    const abort = new AbortController();
    setError(null);
    getJson<PolicyDiff>(`/api/policy/${encodeURIComponent(policy.provider)}/diff`, abort.signal)
      .then(setDiff)
      .catch((caught: unknown) => {
        if (abort.signal.aborted) return;
        if (caught instanceof ApiError && caught.status === 401) expired();
        else if (caught instanceof ApiError) setError(caught);
      });
    return () => abort.abort();
  }, [policy.provider, version, expired]);

  if (error) return <ErrorView error={error} />;
  if (diff === null) return <Loading what={`the pending changes of ${policy.provider}`} />;
  if (diff.changes.length === 0) return <Empty>No change waits for an acknowledgement.</Empty>;
  return (
    <>
      {diff.changes.map((change) => (
        <ChangeView key={`${change.url}/${change.to_hash}`} provider={policy.provider} change={change} onAcknowledged={onAcknowledged} />
      ))}
    </>
  );
}

function ProviderSection({ policy, onAcknowledged }: { policy: ProviderPolicy; onAcknowledged: (answer: PolicyAck) => void }): JSX.Element {
  const pending = policy.pages.some((p) => p.standing === "unacknowledged");
  return (
    <section className="provider-policy" aria-labelledby={`policy-${policy.provider}`}>
      <h3 id={`policy-${policy.provider}`}>
        {policy.provider} · <span className={`status status-${policy.standing}`}>{policy.standing}</span>
      </h3>
      <p className="hint">Snapshots older than {policy.freshness_days} days are stale and hold publishing.</p>
      {policy.pages.length === 0 ? (
        <Empty>No page of {policy.provider} is watched.</Empty>
      ) : (
        <div className="table-wrap">
          <table className="table" aria-label={`Policy pages of ${policy.provider}`}>
            <thead>
              <tr>
                <th scope="col">Page</th>
                <th scope="col">Standing</th>
                <th scope="col">Current snapshot</th>
                <th scope="col">Acknowledged</th>
                <th scope="col">Verified</th>
                <th scope="col">Age</th>
                <th scope="col">Last error</th>
              </tr>
            </thead>
            <tbody>
              {policy.pages.map((p) => (
                <tr key={p.url} data-testid="policy-page">
                  <td>
                    <code className="url">{p.url}</code>
                  </td>
                  <td>
                    <span className={`status status-${p.standing}`}>{p.standing}</span>
                  </td>
                  <td>
                    <code title={p.current_hash ?? undefined}>{short(p.current_hash)}</code>
                  </td>
                  <td>
                    <code title={p.acknowledged_hash ?? undefined}>{short(p.acknowledged_hash)}</code>
                  </td>
                  <td>{when(p.verified_at)}</td>
                  <td>{age(p.age_seconds)}</td>
                  <td>{p.last_error ?? "—"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {pending ? <PendingChanges policy={policy} onAcknowledged={onAcknowledged} /> : null}
    </section>
  );
}

// The policy monitor: per provider, each watched page's snapshot state; a change
// nobody acknowledged shows as a readable diff with an acknowledge step (the API
// records the signed-in principal and refuses roles without `decide`).
export function Policy(): JSX.Element {
  const polled = usePoll<PolicyStatusList>("/api/policy", 15000);
  const [notice, setNotice] = useState<string | null>(null);
  if (polled.loading) return <Loading what="the policy monitor" />;
  if (polled.error && !polled.data) return <ErrorView error={polled.error} />;
  // What needs a person first: a change to read, then missing or stale snapshots.
  const providers = [...(polled.data?.providers ?? [])].sort(
    (a, b) => (ATTENTION[a.standing] ?? 9) - (ATTENTION[b.standing] ?? 9) || a.provider.localeCompare(b.provider),
  );
  const acknowledged = (answer: PolicyAck): void => {
    const pages = answer.acknowledged.length;
    setNotice(`Acknowledged ${pages} page${pages === 1 ? "" : "s"} of ${answer.provider} as ${answer.acknowledged[0]?.by ?? "you"}.`);
    polled.refresh();
  };
  return (
    <section aria-labelledby="policy-title" className="single">
      <h2 id="policy-title">Provider policy</h2>
      <p className="hint">
        Publishing to a provider waits while one of its policy pages has no snapshot, a stale one, or a change nobody
        acknowledged. Snapshots are fetched by <code>autopack policy fetch</code>.
      </p>
      {notice ? (
        <p className="notice" role="status">
          {notice}
        </p>
      ) : null}
      {polled.error ? <ErrorView error={polled.error} /> : null}
      {providers.length === 0 ? (
        <Empty>No provider is under the policy monitor.</Empty>
      ) : (
        providers.map((p) => <ProviderSection key={p.provider} policy={p} onAcknowledged={acknowledged} />)
      )}
    </section>
  );
}

export const policyModule = { id: "policy", title: "Policy", permission: "read_all" as const, View: Policy };
