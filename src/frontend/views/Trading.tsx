import { useState } from "react";
import { ApiError, send } from "../api/client";
import type { BrokerStep, Decision, KillResult, LimitSet, SyncReport, TradingRequest, TradingStatus } from "../api/trading";
import { can, useSession } from "../app/session";
import { usePoll } from "../app/usePoll";
import { Empty, ErrorView, Loading } from "../components/States";
import { Diff } from "../components/Diff";
import { pretty, short, sortedPretty, when } from "../components/format";

const LIMIT_FIELDS = [
  "max_order_notional",
  "max_position_qty",
  "max_position_notional",
  "max_daily_loss",
  "max_drawdown_pct",
  "max_orders_per_minute",
  "max_orders_per_day",
  "symbols",
];

function shown(value: unknown): string {
  if (value === null || value === undefined) return "—";
  return Array.isArray(value) ? value.join(", ") : String(value);
}

function Steps({ steps, label }: { steps: BrokerStep[]; label: string }): JSX.Element {
  return (
    <ol className="steps" aria-label={label}>
      {steps.map((s) => (
        <li key={s.key} data-testid="broker-step">
          <strong>{s.step}</strong> (<code>{s.action}</code>):{" "}
          <span className={`status status-${s.ok ? "succeeded" : s.status}`}>{s.ok ? "done" : s.status}</span>
          {s.error ? <span className="step-error"> — {s.error}</span> : null}
        </li>
      ))}
    </ol>
  );
}

function Limits({ sets }: { sets: Record<string, LimitSet> }): JSX.Element {
  const scopes = Object.keys(sets);
  if (scopes.length === 0) return <p className="note">No risk limits: orders on this account are held.</p>;
  return (
    <table className="table" aria-label="Risk limits">
      <thead>
        <tr>
          <th scope="col">Limit</th>
          {scopes.map((scope) => (
            <th scope="col" key={scope}>
              {scope === "account" ? "Account" : `Strategy ${scope}`} (v{sets[scope].version})
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {LIMIT_FIELDS.map((field) => (
          <tr key={field}>
            <th scope="row">
              <code>{field}</code>
            </th>
            {scopes.map((scope) => (
              <td key={scope}>{shown(sets[scope].limits?.[field])}</td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Exposure({ status }: { status: TradingStatus }): JSX.Element {
  const symbols = Object.keys(status.exposure);
  if (symbols.length === 0) return <p className="note">No position and nothing reserved.</p>;
  return (
    <table className="table" aria-label={`Exposure of ${status.account}`}>
      <thead>
        <tr>
          <th scope="col">Symbol</th>
          <th scope="col">Position</th>
          <th scope="col">Value</th>
          <th scope="col">Reserved qty</th>
          <th scope="col">Reserved notional</th>
          <th scope="col">Last price</th>
        </tr>
      </thead>
      <tbody>
        {symbols.map((symbol) => {
          const e = status.exposure[symbol];
          return (
            <tr key={symbol}>
              <th scope="row">{symbol}</th>
              <td>{e.position_qty}</td>
              <td>{e.position_value}</td>
              <td>{shown(e.reserved_qty)}</td>
              <td>{shown(e.reserved_notional)}</td>
              <td>{shown(e.last_price)}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

interface AccountProps {
  status: TradingStatus;
  halter: boolean;
  operator: boolean;
  killed: KillResult | undefined;
  synced: SyncReport | undefined;
  onKill: (account: string, reason: string, flatten: boolean) => Promise<void>;
  onSync: (account: string) => Promise<void>;
}

function Account({ status, halter, operator, killed, synced, onKill, onSync }: AccountProps): JSX.Element {
  const [confirming, setConfirming] = useState(false);
  const [reason, setReason] = useState("");
  const [flatten, setFlatten] = useState(false);
  const [busy, setBusy] = useState(false);
  const { account, broker } = status;
  const titleId = `account-${account}`;
  return (
    <section className="panel account" aria-labelledby={titleId} data-testid="trading-account">
      <h3 id={titleId}>
        Account {account}{" "}
        <span className={`trading-state trading-${status.state}`} data-testid="trading-state">
          {status.state.toUpperCase()}
        </span>
      </h3>
      <p>
        {status.state_reason ? <>Reason: {status.state_reason}. </> : null}
        Set by {status.state_by} at {when(status.state_at)}. {status.live_trading ? "Live trading is enabled." : "Paper only (live trading is off)."}
      </p>
      <dl className="facts">
        <dt>Equity</dt>
        <dd>{shown(broker.equity)}</dd>
        <dt>Last equity</dt>
        <dd>{shown(broker.last_equity)}</dd>
        <dt>High-water mark</dt>
        <dd>{shown(broker.high_water)}</dd>
        <dt>Broker read</dt>
        <dd>{broker.read_at ? `${when(broker.read_at)} (${broker.age_seconds ?? 0} s ago)` : "never"}</dd>
        {broker.read_error ? (
          <>
            <dt>Read error</dt>
            <dd className="step-error">{broker.read_error}</dd>
          </>
        ) : null}
        <dt>Pending requests</dt>
        <dd>{status.pending_requests}</dd>
      </dl>
      {operator ? (
        <p className="sync">
          <button type="button" onClick={() => void onSync(account)}>
            Read {account} from the broker now
          </button>
          {synced ? (
            <span role="status" data-testid="sync-report">
              {synced.ok
                ? ` Read at ${when(synced.read_at)}: ${synced.positions ?? 0} positions${synced.halted ? `; halted: ${synced.halted}` : ""}.`
                : ` The broker could not be read: ${synced.error ?? "unknown error"}. Orders that need a fresh read are held.`}
            </span>
          ) : null}
        </p>
      ) : null}
      {halter ? (
        confirming ? (
          <form
            className="confirm"
            role="alertdialog"
            aria-labelledby={`${titleId}-kill`}
            onSubmit={(e) => {
              e.preventDefault();
              if (!reason.trim()) return;
              setBusy(true);
              void onKill(account, reason.trim(), flatten).finally(() => {
                setBusy(false);
                setConfirming(false);
                setReason("");
                setFlatten(false);
              });
            }}
          >
            <h3 id={`${titleId}-kill`}>Kill trading on {account}?</h3>
            <p>
              The account turns HALTED at once in every worker; then open orders are cancelled at the broker
              {flatten ? ", every position is closed" : ""} and trading is suspended there. Resuming needs an approval.
            </p>
            <label>
              Reason
              <input value={reason} onChange={(e) => setReason(e.target.value)} required maxLength={500} autoFocus />
            </label>
            <label className="check">
              <input type="checkbox" checked={flatten} onChange={(e) => setFlatten(e.target.checked)} />
              Also close every position (flatten)
            </label>
            <button type="submit" className="danger" disabled={busy || !reason.trim()}>
              Yes, kill {account}
            </button>
            <button type="button" onClick={() => setConfirming(false)} disabled={busy}>
              Cancel
            </button>
          </form>
        ) : (
          <button type="button" className="danger kill" onClick={() => setConfirming(true)}>
            Kill trading on {account}…
          </button>
        )
      ) : (
        <p className="note">Your role cannot use the kill switch.</p>
      )}
      {killed ? (
        <div className={killed.ok ? "notice" : "waiting"} role="status">
          <p>
            Trading on {account} is HALTED (event {killed.event}).{" "}
            {killed.ok ? "Every broker step succeeded." : "A broker step did not succeed: it waits for a person in Actions."}
          </p>
          <Steps steps={killed.steps} label={`Kill steps of ${account}`} />
        </div>
      ) : null}
      <h4>Limits</h4>
      <Limits sets={status.limits} />
      <h4>Exposure</h4>
      <Exposure status={status} />
      <h4>Promotions</h4>
      {status.promotions.length === 0 ? (
        <p className="note">No promotion: live orders are refused.</p>
      ) : (
        <ul>
          {status.promotions.map((p) => (
            <li key={p.id}>
              {p.strategy} (strategy <code>{short(p.strategy_hash)}</code>, limits <code>{short(p.limits_hash)}</code>) until{" "}
              {when(p.expires_at)}
              {p.expired ? " — expired" : ""}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

interface RequestProps {
  request: TradingRequest;
  // The limit set in force that a limits request would replace (null: none yet).
  current: LimitSet | null | undefined;
  decider: boolean;
  me: string;
  onDecided: (message: string) => void;
  onError: (error: ApiError) => void;
}

function Request({ request, current, decider, me, onDecided, onError }: RequestProps): JSX.Element {
  const [rejecting, setRejecting] = useState(false);
  const [reason, setReason] = useState("");
  const title = `Request ${request.id}: ${request.kind}${request.account ? ` on ${request.account}` : ""}${request.strategy ? ` (${request.strategy})` : ""}`;
  const mine = request.requested_by === me;
  const approve = async (): Promise<void> => {
    try {
      const done = await send<Decision>("POST", `/api/trading/requests/${request.id}/approve`, { hash: request.payload_hash });
      if (done.status === "applied") onDecided(`Request ${request.id} approved and applied.`);
      else if (done.status === "voided") onDecided(`Request ${request.id} was voided: ${done.voided_because ?? ""}`);
      else onDecided(`Request ${request.id} approved: ${done.approvals.length} of ${done.required_approvals} approvals.`);
    } catch (caught) {
      if (caught instanceof ApiError) onError(caught);
    }
  };
  const reject = async (): Promise<void> => {
    try {
      await send<TradingRequest>("POST", `/api/trading/requests/${request.id}/reject`, { reason: reason.trim() });
      onDecided(`Request ${request.id} rejected.`);
    } catch (caught) {
      if (caught instanceof ApiError) onError(caught);
    }
  };
  return (
    <li className="panel" data-testid="trading-request" aria-label={title}>
      <h4>{title}</h4>
      <dl className="facts">
        <dt>Asked by</dt>
        <dd>
          {request.requested_by} at {when(request.requested_at)}
        </dd>
        <dt>Expires</dt>
        <dd>{when(request.expires_at)}</dd>
        <dt>Approvals</dt>
        <dd data-testid="request-approvals">
          {request.approvals.length} of {request.required_approvals}
          {request.approvals.length ? ` (${request.approvals.map((a) => a.approver).join(", ")})` : ""}
        </dd>
        <dt>Hash</dt>
        <dd className="hash">
          <code data-testid="request-hash">{request.payload_hash}</code>
        </dd>
      </dl>
      {request.kind === "limits" ? (
        <>
          <p data-testid="request-loosens">
            Allows more: {((request.payload.loosened as string[] | undefined) ?? []).join(", ") || "—"}
          </p>
          <Diff
            label={`Limits of request ${request.id} against those in force`}
            before={sortedPretty(current?.limits ?? {})}
            after={sortedPretty(request.payload.limits ?? {})}
          />
        </>
      ) : null}
      <details>
        <summary>Payload (what the hash covers)</summary>
        <pre aria-label={`Payload of request ${request.id}`}>{pretty(request.payload)}</pre>
      </details>
      {!decider ? (
        <p className="note">Your role cannot approve or reject.</p>
      ) : mine ? (
        <p className="note">You asked for this change: another person approves it.</p>
      ) : (
        <div className="decide">
          <button type="button" className="primary" onClick={() => void approve()}>
            Approve hash {short(request.payload_hash)}
          </button>
          {rejecting ? (
            <>
              <label>
                Reason
                <input value={reason} onChange={(e) => setReason(e.target.value)} maxLength={500} autoFocus />
              </label>
              <button type="button" className="danger" disabled={!reason.trim()} onClick={() => void reject()}>
                Confirm reject
              </button>
              <button type="button" onClick={() => setRejecting(false)}>
                Cancel
              </button>
            </>
          ) : (
            <button type="button" onClick={() => setRejecting(true)}>
              Reject…
            </button>
          )}
        </div>
      )}
    </li>
  );
}

export function Trading(): JSX.Element {
  const { session, expired } = useSession();
  const accounts = usePoll<{ accounts: TradingStatus[] }>("/api/trading");
  const requests = usePoll<{ requests: TradingRequest[] }>("/api/trading/requests");
  const [notice, setNotice] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [kills, setKills] = useState<Record<string, KillResult>>({});
  const [syncs, setSyncs] = useState<Record<string, SyncReport>>({});

  const failed = (caught: ApiError): void => {
    if (caught.status === 401) expired();
    else setError(caught);
  };
  const kill = async (account: string, reason: string, flatten: boolean): Promise<void> => {
    setError(null);
    setNotice(null);
    try {
      const result = await send<KillResult>("POST", `/api/trading/accounts/${encodeURIComponent(account)}/kill`, { reason, flatten });
      setKills((known) => ({ ...known, [account]: result }));
      accounts.refresh();
    } catch (caught) {
      if (caught instanceof ApiError) failed(caught);
    }
  };
  const sync = async (account: string): Promise<void> => {
    setError(null);
    try {
      const report = await send<SyncReport>("POST", `/api/trading/accounts/${encodeURIComponent(account)}/sync`);
      setSyncs((known) => ({ ...known, [account]: report }));
      accounts.refresh();
    } catch (caught) {
      if (caught instanceof ApiError) failed(caught);
    }
  };
  const decided = (message: string): void => {
    setError(null);
    setNotice(message);
    requests.refresh();
    accounts.refresh();
  };

  if (accounts.loading) return <Loading what="trading accounts" />;
  if (accounts.error && !accounts.data) return <ErrorView error={accounts.error} />;
  const list = accounts.data?.accounts ?? [];
  const pending = requests.data?.requests ?? [];

  return (
    <section aria-labelledby="trading-title" className="single">
      <h2 id="trading-title">Trading</h2>
      <p className="hint">
        State, limits and exposure of each account; the kill switch; changes that wait for approval. Tightening applies at once,
        anything that allows more is a request.
      </p>
      {notice ? (
        <p className="notice" role="status">
          {notice}
        </p>
      ) : null}
      {error ? <ErrorView error={error} /> : null}
      {list.length === 0 ? (
        <Empty>No trading account yet: an account appears once its risk limits are set.</Empty>
      ) : (
        list.map((status) => (
          <Account
            key={status.account}
            status={status}
            halter={can(session, "halt")}
            operator={can(session, "operate")}
            killed={kills[status.account]}
            synced={syncs[status.account]}
            onKill={kill}
            onSync={sync}
          />
        ))
      )}
      <h3>Pending trading requests</h3>
      {requests.loading ? (
        <Loading what="trading requests" />
      ) : requests.error && !requests.data ? (
        <ErrorView error={requests.error} />
      ) : pending.length === 0 ? (
        <Empty>No trading change waits for approval.</Empty>
      ) : (
        <ul className="rows requests">
          {pending.map((r) => (
            <Request
              key={r.id}
              request={r}
              current={list.find((a) => a.account === r.account)?.limits[r.strategy ?? "account"]}
              decider={can(session, "decide")}
              me={session.principal}
              onDecided={decided}
              onError={failed}
            />
          ))}
        </ul>
      )}
    </section>
  );
}

export const tradingModule = { id: "trading", title: "Trading", permission: "read_all" as const, View: Trading };
