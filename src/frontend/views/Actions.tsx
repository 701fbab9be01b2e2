import { useState } from "react";
import { query } from "../api/client";
import { ACTION_STATUSES, type Action, type ActionDetail } from "../api/types";
import { usePoll } from "../app/usePoll";
import { Empty, ErrorView, Loading } from "../components/States";
import { pretty, short, when } from "../components/format";

function Timeline({ detail }: { detail: ActionDetail }): JSX.Element {
  return (
    <ol className="timeline" aria-label="Event timeline">
      {detail.events.map((e) => (
        <li key={e.seq}>
          <span className="seq">#{e.seq}</span> <strong>{e.event}</strong>{" "}
          {e.from || e.to ? (
            <span>
              {e.from ?? "—"} → {e.to ?? "—"}
            </span>
          ) : null}{" "}
          <span className="row-meta">
            by {e.actor} at {when(e.at)}
          </span>
          <br />
          <code className="hash" title={e.hash}>
            {e.hash}
          </code>
        </li>
      ))}
    </ol>
  );
}

function ActionPanel({ actionKey }: { actionKey: string }): JSX.Element {
  const polled = usePoll<ActionDetail>(`/api/actions/${encodeURIComponent(actionKey)}`);
  if (polled.loading) return <Loading what="the action" />;
  if (polled.error && !polled.data) return <ErrorView error={polled.error} />;
  const detail = polled.data;
  if (!detail) return <Empty>No such action.</Empty>;
  const a = detail.action;
  const held = detail.gates.filter((g) => g.verdict !== "allow");
  return (
    <article className="panel" aria-labelledby="action-title">
      <h3 id="action-title">
        <code>{a.key}</code> · <span className={`status status-${a.status}`}>{a.status}</span>
      </h3>
      <dl className="facts">
        <dt>Provider</dt>
        <dd>
          {a.provider} · {a.action} · {a.account}
        </dd>
        <dt>Provider object id</dt>
        <dd data-testid="provider-object-id">{a.provider_object_id ?? "—"}</dd>
        <dt>Requested by</dt>
        <dd>{a.requested_by}</dd>
        <dt>Approval</dt>
        <dd>{a.approval_id ?? "—"}</dd>
        <dt>Attempts</dt>
        <dd>{a.attempt_count}</dd>
        <dt>Payload hash</dt>
        <dd>
          <code className="hash">{a.payload_hash}</code>
        </dd>
        <dt>Last error</dt>
        <dd>{a.last_error ?? "—"}</dd>
      </dl>
      {detail.waiting_reason ? (
        <div className="waiting" role="status" data-testid="waiting-reason">
          <h4>Why it waits</h4>
          <p>{detail.waiting_reason}</p>
          <ul>
            {held.map((g) => (
              <li key={g.gate}>
                <strong>{g.gate}</strong> ({g.verdict}): {g.message}
              </li>
            ))}
          </ul>
        </div>
      ) : null}
      <h4>Events</h4>
      <Timeline detail={detail} />
      <h4>Payload</h4>
      <pre className="json">{pretty(a.payload)}</pre>
    </article>
  );
}

export function Actions(): JSX.Element {
  const [status, setStatus] = useState("");
  const [project, setProject] = useState("");
  const [provider, setProvider] = useState("");
  const [openKey, setOpenKey] = useState<string | null>(null);
  const polled = usePoll<{ actions: Action[] }>(`/api/actions${query({ status, project: project.trim(), limit: 200 })}`);
  const actions = (polled.data?.actions ?? []).filter((a) => !provider || a.provider === provider);
  const providers = [...new Set((polled.data?.actions ?? []).map((a) => a.provider))].sort();

  return (
    <div className="split">
      <section className="list" aria-labelledby="actions-title">
        <h2 id="actions-title">Actions</h2>
        <form className="filters" onSubmit={(e) => e.preventDefault()} aria-label="Filter actions">
          <label>
            Status
            <select value={status} onChange={(e) => setStatus(e.target.value)}>
              <option value="">any</option>
              {ACTION_STATUSES.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          </label>
          <label>
            Provider
            <select value={provider} onChange={(e) => setProvider(e.target.value)}>
              <option value="">any</option>
              {providers.map((p) => (
                <option key={p} value={p}>
                  {p}
                </option>
              ))}
            </select>
          </label>
          <label>
            Project
            <input value={project} onChange={(e) => setProject(e.target.value)} placeholder="any" />
          </label>
        </form>
        {polled.loading ? <Loading what="actions" /> : null}
        {polled.error ? <ErrorView error={polled.error} /> : null}
        {!polled.loading && !polled.error && actions.length === 0 ? (
          <Empty>No actions match these filters.</Empty>
        ) : null}
        {actions.length ? (
          <ul className="rows" aria-label="Actions">
            {actions.map((a) => (
              <li key={a.key} className={a.key === openKey ? "row open" : "row"} data-testid="action-row">
                <button type="button" className="row-open" aria-expanded={a.key === openKey} onClick={() => setOpenKey(a.key)}>
                  <span className="row-title">
                    <code>{a.key}</code> <span className={`status status-${a.status}`}>{a.status}</span>
                  </span>
                  <span className="row-meta">
                    {a.provider} {a.action} · {a.project ?? "no project"} · {when(a.updated_at)}
                    {a.provider_object_id ? ` · ${short(a.provider_object_id, 20)}` : ""}
                  </span>
                </button>
              </li>
            ))}
          </ul>
        ) : null}
      </section>
      <section className="detail" aria-label="Action detail">
        {openKey ? <ActionPanel actionKey={openKey} /> : <Empty>Choose an action to see its history.</Empty>}
      </section>
    </div>
  );
}

export const actionsModule = { id: "actions", title: "Actions", permission: "propose" as const, View: Actions };
