import { useEffect, useState } from "react";
import { ApiError, getJson, query, send } from "../api/client";
import type { Action, ActionDetail, Approval, ApprovalDetail } from "../api/types";
import { can, useSession } from "../app/session";
import { usePoll } from "../app/usePoll";
import { Diff } from "../components/Diff";
import { MediaList, mediaOf } from "../components/MediaPreview";
import { Empty, ErrorView, Loading } from "../components/States";
import { pretty, short, sortedPretty, when } from "../components/format";

// The oldest pending approvals, one page of the API's list (oldest first): a
// person decides from the top, and a short page keeps the first paint fast.
export const INBOX_LIMIT = 50;

function TwoPerson({ approval, decisions }: { approval: Approval; decisions: ApprovalDetail["decisions"] | null }): JSX.Element {
  const approvals = (decisions ?? []).filter((d) => d.decision === "approved");
  const needed = approval.required_approvals;
  return (
    <p className="two-person" data-testid="two-person">
      {needed > 1 ? "Two-person rule: " : "Approvals: "}
      {approvals.length} of {needed}
      {approvals.length ? ` (${approvals.map((d) => d.person).join(", ")})` : ""}
    </p>
  );
}

function RenderView({ detail }: { detail: ActionDetail }): JSX.Element {
  const render = detail.render;
  if (render === null) return <p>No dry-run render: the provider has no adapter now.</p>;
  return (
    <section className="render" aria-label={`Dry-run request of ${detail.action.key}`}>
      <h4>Exact request (dry run)</h4>
      <p className="request-line">
        <strong>{render.method}</strong> <code className="url">{render.url}</code>
      </p>
      <table className="headers">
        <caption>Headers (secrets are added at dispatch, never shown)</caption>
        <tbody>
          {Object.entries(render.headers).map(([name, value]) => (
            <tr key={name}>
              <th scope="row">{name}</th>
              <td>
                <code>{value}</code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <h5>Body</h5>
      <pre className="json">{pretty(render.body)}</pre>
      {render.steps?.length ? (
        <>
          <h5>Then, in order</h5>
          <ol className="steps" aria-label="Following requests">
            {render.steps.map((step, index) => (
              <li key={index}>
                <p>
                  {step.purpose}: <strong>{step.method}</strong> <code className="url">{step.url}</code>
                </p>
                <pre className="json">{pretty(step.body)}</pre>
              </li>
            ))}
          </ol>
        </>
      ) : null}
      {render.provider_idempotency_key ? (
        <p>
          Provider idempotency key: <code>{render.provider_idempotency_key}</code>
        </p>
      ) : null}
    </section>
  );
}

function earlierOf(action: Action, candidates: Action[]): Action | null {
  const same = candidates.filter(
    (c) =>
      c.key !== action.key &&
      c.provider === action.provider &&
      c.action === action.action &&
      c.account === action.account &&
      c.created_at < action.created_at,
  );
  same.sort((x, y) => (x.created_at < y.created_at ? 1 : -1));
  return same[0] ?? null;
}

function ApprovalPanel({ approval, onDecided }: { approval: Approval; onDecided: (message: string) => void }): JSX.Element {
  const { session, expired } = useSession();
  const [detail, setDetail] = useState<ApprovalDetail | null>(null);
  const [actions, setActions] = useState<ActionDetail[] | null>(null);
  const [earlier, setEarlier] = useState<Record<string, Action | null>>({});
  const [error, setError] = useState<ApiError | null>(null);
  const [reason, setReason] = useState("");
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    const abort = new AbortController();
    setDetail(null);
    setActions(null);
    setError(null);
    const load = async (): Promise<void> => {
      try {
        const [found, details] = await Promise.all([
          getJson<ApprovalDetail>(`/api/approvals/${approval.id}`, abort.signal),
          Promise.all(
            approval.actions.map((a) => getJson<ActionDetail>(`/api/actions/${encodeURIComponent(a.key)}`, abort.signal)),
          ),
        ]);
        setDetail(found);
        setActions(details);
        const listed = await getJson<{ actions: Action[] }>(
          `/api/actions${query({ project: approval.project, limit: 200 })}`,
          abort.signal,
        );
        setEarlier(Object.fromEntries(details.map((d) => [d.action.key, earlierOf(d.action, listed.actions)])));
      } catch (caught) {
        if (abort.signal.aborted) return;
        if (caught instanceof ApiError && caught.status === 401) expired();
        else if (caught instanceof ApiError) setError(caught);
      }
    };
    void load();
    return () => abort.abort();
  }, [approval.id, approval.actions, approval.project, expired]);

  const decide = async (verb: "approve" | "reject"): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      const body = verb === "approve" ? { hash: approval.subject_hash } : { reason: reason || null };
      const answer = await send<ApprovalDetail>("POST", `/api/approvals/${approval.id}/${verb}`, body);
      onDecided(
        answer.status === "pending"
          ? `Approval ${approval.id}: your approval is recorded; a second person must approve.`
          : `Approval ${approval.id} ${answer.status}.`,
      );
    } catch (caught) {
      if (caught instanceof ApiError && caught.status === 401) expired();
      else if (caught instanceof ApiError) setError(caught);
    } finally {
      setBusy(false);
    }
  };

  return (
    <article className="panel" aria-labelledby={`approval-${approval.id}-title`}>
      <h3 id={`approval-${approval.id}-title`}>
        Approval {approval.id} · {approval.category}
      </h3>
      <dl className="facts">
        <dt>Asked by</dt>
        <dd>{approval.requested_by}</dd>
        <dt>Project</dt>
        <dd>{approval.project ?? "—"}</dd>
        <dt>Asked at</dt>
        <dd>{when(approval.created_at)}</dd>
        <dt>Expires</dt>
        <dd>{when(approval.expires_at)}</dd>
        <dt>Hash to approve</dt>
        <dd>
          <code className="hash" data-testid="subject-hash">
            {approval.subject_hash}
          </code>
        </dd>
      </dl>
      <TwoPerson approval={approval} decisions={detail?.decisions ?? null} />
      {error ? <ErrorView error={error} /> : null}
      {actions === null && error === null ? <Loading what="the request" /> : null}
      {actions?.map((d) => {
        const previous = earlier[d.action.key];
        return (
          <section key={d.action.key} className="approval-action">
            <h4>
              {d.action.provider} · {d.action.action} · <code>{d.action.key}</code>
            </h4>
            <p>
              Account <code>{d.action.account}</code>, payload hash <code className="hash">{d.action.payload_hash}</code>
            </p>
            <RenderView detail={d} />
            {d.packet_id ? <MediaList packetId={d.packet_id} media={mediaOf(d.action.payload)} /> : null}
            <h4>Payload</h4>
            <pre className="json">{pretty(d.action.payload)}</pre>
            {previous ? (
              <Diff
                label={`Changes since ${previous.key} (${when(previous.created_at)})`}
                before={sortedPretty(previous.payload)}
                after={sortedPretty(d.action.payload)}
              />
            ) : null}
          </section>
        );
      })}
      {can(session, "decide") ? (
        <div className="decide">
          <button type="button" className="primary" disabled={busy || actions === null} onClick={() => void decide("approve")}>
            Approve hash {short(approval.subject_hash, 8)}
          </button>
          <label>
            Reason for rejecting
            <input value={reason} onChange={(e) => setReason(e.target.value)} maxLength={500} />
          </label>
          <button type="button" className="danger" disabled={busy} onClick={() => void decide("reject")}>
            Reject
          </button>
        </div>
      ) : (
        <p className="note">Your role can read this approval but not decide it.</p>
      )}
    </article>
  );
}

export function Inbox(): JSX.Element {
  const { session, expired } = useSession();
  const polled = usePoll<{ approvals: Approval[] }>(`/api/approvals${query({ status: "pending", limit: INBOX_LIMIT })}`);
  const [openId, setOpenId] = useState<number | null>(null);
  const [selected, setSelected] = useState<Set<number>>(new Set());
  const [notice, setNotice] = useState<string | null>(null);
  const [batchError, setBatchError] = useState<ApiError | null>(null);
  const [confirmBatch, setConfirmBatch] = useState(false);

  if (polled.loading) return <Loading what="pending approvals" />;
  if (polled.error && !polled.data) return <ErrorView error={polled.error} />;
  const approvals = polled.data?.approvals ?? [];
  const open = approvals.find((a) => a.id === openId) ?? null;
  const decider = can(session, "decide");

  const toggle = (id: number): void => {
    const next = new Set(selected);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setSelected(next);
  };

  const approveSelected = async (): Promise<void> => {
    setConfirmBatch(false);
    setBatchError(null);
    const chosen = approvals.filter((a) => selected.has(a.id));
    const done: number[] = [];
    for (const approval of chosen) {
      try {
        await send("POST", `/api/approvals/${approval.id}/approve`, { hash: approval.subject_hash });
        done.push(approval.id);
      } catch (caught) {
        if (caught instanceof ApiError && caught.status === 401) {
          expired();
          return;
        }
        if (caught instanceof ApiError) setBatchError(caught);
        break;
      }
    }
    setSelected(new Set());
    setNotice(`Approved ${done.length} of ${chosen.length}: ${done.join(", ") || "none"}.`);
    polled.refresh();
  };

  return (
    <div className="split">
      <section aria-labelledby="inbox-title" className="list">
        <h2 id="inbox-title">Approval inbox</h2>
        <p className="hint">Pending approvals, oldest first. Updates every few seconds.</p>
        {notice ? (
          <p className="notice" role="status">
            {notice}
          </p>
        ) : null}
        {polled.error ? <ErrorView error={polled.error} /> : null}
        {batchError ? <ErrorView error={batchError} /> : null}
        {decider && selected.size > 0 ? (
          <div className="batch" role="group" aria-label="Batch approval">
            {confirmBatch ? (
              <>
                <span>Approve {selected.size} approvals, each bound to its shown hash?</span>
                <button type="button" className="primary" onClick={() => void approveSelected()}>
                  Confirm batch approve
                </button>
                <button type="button" onClick={() => setConfirmBatch(false)}>
                  Cancel
                </button>
              </>
            ) : (
              <button type="button" className="primary" onClick={() => setConfirmBatch(true)}>
                Approve selected ({selected.size})
              </button>
            )}
          </div>
        ) : null}
        {approvals.length === 0 ? (
          <Empty>Nothing waits for a person. New approvals appear here.</Empty>
        ) : (
          <>
          {approvals.length >= INBOX_LIMIT ? (
            <p className="hint" role="status">
              Showing the {INBOX_LIMIT} oldest; more wait behind these and appear as these are decided.
            </p>
          ) : null}
          <ul className="rows" aria-label="Pending approvals">
            {approvals.map((a) => (
              <li key={a.id} className={a.id === openId ? "row open" : "row"} data-testid="approval-row">
                {decider ? (
                  <input
                    type="checkbox"
                    aria-label={`Select approval ${a.id}`}
                    checked={selected.has(a.id)}
                    onChange={() => toggle(a.id)}
                  />
                ) : null}
                <button type="button" className="row-open" aria-expanded={a.id === openId} onClick={() => setOpenId(a.id)}>
                  <span className="row-title">
                    #{a.id} {a.actions.map((x) => `${x.provider} ${x.action}`).join(", ")}
                  </span>
                  <span className="row-meta">
                    {a.requested_by} · {a.category} · expires {when(a.expires_at)}
                    {a.required_approvals > 1 ? " · two-person" : ""}
                  </span>
                </button>
              </li>
            ))}
          </ul>
          </>
        )}
      </section>
      <section className="detail" aria-label="Approval detail">
        {open ? (
          <ApprovalPanel
            approval={open}
            onDecided={(message) => {
              setNotice(message);
              setOpenId(null);
              polled.refresh();
            }}
          />
        ) : approvals.length ? (
          <Empty>Choose an approval to read its exact request.</Empty>
        ) : null}
      </section>
    </div>
  );
}

export const inboxModule = { id: "inbox", title: "Approvals", permission: "read_all" as const, View: Inbox };
