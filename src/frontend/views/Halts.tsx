import { useState } from "react";
import { ApiError, send } from "../api/client";
import type { Halt } from "../api/types";
import { can, useSession } from "../app/session";
import { usePoll } from "../app/usePoll";
import { NotificationsPanel } from "../components/NotificationsPanel";
import { Empty, ErrorView, Loading } from "../components/States";
import { when } from "../components/format";

type Pending = { kind: "engage"; scope: string; reason: string } | { kind: "release"; halt: Halt; reason: string };

export function Halts(): JSX.Element {
  const { session, expired } = useSession();
  const polled = usePoll<{ halts: Halt[] }>("/api/halts");
  const [scope, setScope] = useState("all");
  const [reason, setReason] = useState("");
  const [pending, setPending] = useState<Pending | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const halter = can(session, "halt");

  const confirm = async (): Promise<void> => {
    if (pending === null) return;
    setError(null);
    try {
      if (pending.kind === "engage") {
        const halt = await send<Halt>("POST", "/api/halts", { scope: pending.scope, reason: pending.reason });
        setNotice(`Halt ${halt.id} engaged on ${halt.scope}: matching actions wait until it is released.`);
        setReason("");
      } else {
        const q = pending.reason ? `?reason=${encodeURIComponent(pending.reason)}` : "";
        const halt = await send<Halt>("DELETE", `/api/halts/${pending.halt.id}${q}`);
        setNotice(`Halt ${halt.id} released.`);
      }
      setPending(null);
      polled.refresh();
    } catch (caught) {
      if (caught instanceof ApiError && caught.status === 401) expired();
      else if (caught instanceof ApiError) setError(caught);
    }
  };

  if (polled.loading) return <Loading what="halts" />;
  if (polled.error && !polled.data) return <ErrorView error={polled.error} />;
  const halts = polled.data?.halts ?? [];

  return (
    <section aria-labelledby="halts-title" className="single">
      <h2 id="halts-title">Halts and kill switches</h2>
      <p className="hint">A halt holds every approved action in its scope, in every worker, until released.</p>
      {notice ? (
        <p className="notice" role="status">
          {notice}
        </p>
      ) : null}
      {error ? <ErrorView error={error} /> : null}
      {pending ? (
        <div className="confirm" role="alertdialog" aria-labelledby="confirm-title" aria-describedby="confirm-text">
          <h3 id="confirm-title">{pending.kind === "engage" ? "Engage this halt?" : "Release this halt?"}</h3>
          <p id="confirm-text">
            {pending.kind === "engage"
              ? `Scope ${pending.scope}: nothing in it is sent until someone releases the halt. Reason: ${pending.reason}`
              : `Halt ${pending.halt.id} on ${pending.halt.scope}: held actions are sent once each after the release.`}
          </p>
          <button type="button" className={pending.kind === "engage" ? "danger" : "primary"} autoFocus onClick={() => void confirm()}>
            {pending.kind === "engage" ? "Yes, engage halt" : "Yes, release halt"}
          </button>
          <button type="button" onClick={() => setPending(null)}>
            Cancel
          </button>
        </div>
      ) : null}
      {halter ? (
        <form
          className="engage"
          aria-label="Engage a halt"
          onSubmit={(e) => {
            e.preventDefault();
            setPending({ kind: "engage", scope: scope.trim(), reason: reason.trim() });
          }}
        >
          <label>
            Scope
            <input value={scope} onChange={(e) => setScope(e.target.value)} required aria-describedby="scope-help" />
          </label>
          <small id="scope-help">all, provider:NAME or account:PROVIDER/ACCOUNT</small>
          <label>
            Reason
            <input value={reason} onChange={(e) => setReason(e.target.value)} required maxLength={500} />
          </label>
          <button type="submit" className="danger">
            Engage halt…
          </button>
        </form>
      ) : (
        <p className="note">Your role cannot engage or release halts.</p>
      )}
      {halts.length === 0 ? (
        <Empty>No halt is engaged: approved actions are sent.</Empty>
      ) : (
        <table className="table" aria-label="Engaged halts">
          <thead>
            <tr>
              <th scope="col">Id</th>
              <th scope="col">Scope</th>
              <th scope="col">Reason</th>
              <th scope="col">Engaged</th>
              <th scope="col">
                <span className="visually-hidden">Release</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {halts.map((h) => (
              <tr key={h.id} data-testid="halt-row">
                <td>{h.id}</td>
                <td>
                  <code>{h.scope}</code>
                </td>
                <td>{h.reason}</td>
                <td>
                  {h.engaged_by} at {when(h.engaged_at)}
                </td>
                <td>
                  {halter ? (
                    <button type="button" onClick={() => setPending({ kind: "release", halt: h, reason: "" })}>
                      Release halt {h.id}…
                    </button>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <NotificationsPanel />
    </section>
  );
}

export const haltsModule = { id: "halts", title: "Halts", permission: "read_all" as const, View: Halts };
