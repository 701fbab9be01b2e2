import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import type { Session } from "../api/types";
import { SessionContext } from "../app/session";
import { Trading } from "../views/Trading";
import { HASH, agent, fakeApi, operator } from "./fakeApi";

function withSession(node: JSX.Element, session: unknown = operator): JSX.Element {
  return <SessionContext.Provider value={{ session: session as Session, expired: () => undefined }}>{node}</SessionContext.Provider>;
}

function status(state: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    account: "main",
    state,
    state_reason: state === "halted" ? "runaway" : null,
    state_by: "alice",
    state_at: "2026-11-24T01:00:00Z",
    live_trading: false,
    broker: { equity: "100000", last_equity: "100000", high_water: "100000", read_at: "2026-11-24T01:00:00Z", age_seconds: 4, read_error: null },
    limits: {
      account: {
        version: 2,
        limits: {
          max_order_notional: "1000",
          max_position_qty: "5",
          max_position_notional: null,
          max_daily_loss: null,
          max_drawdown_pct: null,
          max_orders_per_minute: null,
          max_orders_per_day: 100,
          symbols: ["AAPL", "MSFT"],
        },
      },
    },
    exposure: { AAPL: { position_qty: "3", position_value: "300", last_price: "100", reserved_qty: "1", reserved_notional: "90" } },
    promotions: [{ id: 1, strategy: "momentum", strategy_hash: HASH, limits_hash: HASH, expires_at: "2026-12-01T00:00:00Z", expired: false }],
    pending_requests: 1,
    ...extra,
  };
}

const request = {
  id: 7,
  kind: "limits",
  account: "main",
  strategy: null,
  status: "pending",
  payload: { account: "main", strategy: "", limits: { max_position_qty: "20" }, loosened: ["max_position_qty"] },
  payload_hash: HASH,
  required_approvals: 1,
  requested_by: "olga",
  requested_at: "2026-11-24T01:00:00Z",
  expires_at: "2026-11-25T01:00:00Z",
  decided_at: null,
  decision: null,
  approvals: [],
};

const steps = [
  { step: "cancel-orders", action: "orders.cancel_all", key: "k1", status: "succeeded", ok: true, error: null },
  { step: "close-positions", action: "positions.close_all", key: "k2", status: "succeeded", ok: true, error: null },
  { step: "suspend", action: "account.suspend_trading", key: "k3", status: "needs_attention", ok: false, error: "the broker did not answer" },
];

describe("Trading", () => {
  it("shows state, limits, exposure and promotions, and kills only after a confirmation with a reason", async () => {
    let halted = false;
    const calls = fakeApi({
      "GET /api/trading": () => ({ status: 200, body: { accounts: [status(halted ? "halted" : "active")] } }),
      "GET /api/trading/requests": () => ({ status: 200, body: { requests: [] } }),
      "POST /api/trading/accounts/main/kill": () => {
        halted = true;
        return { status: 200, body: { account: "main", state: "halted", event: 9, steps, ok: false } };
      },
    });
    render(withSession(<Trading />));
    expect(await screen.findByTestId("trading-state")).toHaveTextContent("ACTIVE");
    expect(screen.getByLabelText("Risk limits")).toHaveTextContent("AAPL, MSFT");
    const exposure = screen.getByLabelText("Exposure of main");
    expect(within(exposure).getByText("AAPL").closest("tr")).toHaveTextContent("330019010");
    expect(screen.getByText(/momentum \(strategy/)).toBeInTheDocument();
    expect(screen.getByText("No trading change waits for approval.")).toBeInTheDocument();

    await userEvent.click(screen.getByRole("button", { name: "Kill trading on main…" }));
    const dialog = screen.getByRole("alertdialog");
    expect(dialog).toHaveTextContent("Kill trading on main?");
    const yes = screen.getByRole("button", { name: "Yes, kill main" });
    expect(yes).toBeDisabled();
    await userEvent.type(screen.getByLabelText("Reason"), "runaway");
    await userEvent.click(screen.getByLabelText("Also close every position (flatten)"));
    expect(calls.some((c) => c.method === "POST")).toBe(false);
    await userEvent.click(yes);
    expect(calls.find((c) => c.method === "POST")?.body).toEqual({ reason: "runaway", flatten: true });
    const outcome = await screen.findByLabelText("Kill steps of main");
    expect(within(outcome).getAllByTestId("broker-step")).toHaveLength(3);
    expect(outcome).toHaveTextContent("needs_attention — the broker did not answer");
    expect(screen.getByText(/A broker step did not succeed/)).toBeInTheDocument();
    expect(await screen.findByText("HALTED")).toBeInTheDocument();
    expect(screen.getByText(/Reason: runaway/)).toBeInTheDocument();
  });

  it("approves a pending request by its hash, and the requester gets no button", async () => {
    const calls = fakeApi({
      "GET /api/trading": () => ({ status: 200, body: { accounts: [status("active")] } }),
      "GET /api/trading/requests": () => ({ status: 200, body: { requests: [request, { ...request, id: 8, requested_by: "alice" }] } }),
      "POST /api/trading/requests/7/approve": () => ({
        status: 200,
        body: { ...request, status: "applied", approvals: [{ approver: "alice", via: "api", at: "2026-11-24T01:01:00Z" }], voided_because: null },
      }),
    });
    render(withSession(<Trading />));
    const first = await screen.findByRole("listitem", { name: "Request 7: limits on main" });
    expect(within(first).getByTestId("request-hash")).toHaveTextContent(HASH);
    expect(within(first).getByLabelText("Payload of request 7")).toHaveTextContent('"max_position_qty": "20"');
    expect(within(first).getByTestId("request-loosens")).toHaveTextContent("Allows more: max_position_qty");
    const diff = within(first).getByLabelText("Limits of request 7 against those in force");
    expect(diff).toHaveTextContent('- "max_position_qty": "5"');
    expect(diff).toHaveTextContent('+ "max_position_qty": "20"');
    const own = screen.getByRole("listitem", { name: "Request 8: limits on main" });
    expect(within(own).queryByRole("button", { name: /Approve/ })).toBeNull();
    expect(own).toHaveTextContent("another person approves it");
    await userEvent.click(within(first).getByRole("button", { name: /Approve hash aaaaaaaaaaaa/ }));
    expect(await screen.findByText("Request 7 approved and applied.")).toBeInTheDocument();
    expect(calls.find((c) => c.method === "POST")?.body).toEqual({ hash: HASH });
  });

  it("rejects with a reason and shows the API's refusal", async () => {
    fakeApi({
      "GET /api/trading": () => ({ status: 200, body: { accounts: [] } }),
      "GET /api/trading/requests": () => ({ status: 200, body: { requests: [request] } }),
      "POST /api/trading/requests/7/reject": () => ({
        status: 409,
        body: { error: { code: "trading_request_decided", message: "trading request 7 is applied" } },
      }),
    });
    render(withSession(<Trading />));
    expect(await screen.findByText(/No trading account yet/)).toBeInTheDocument();
    await userEvent.click(screen.getByRole("button", { name: "Reject…" }));
    const confirm = screen.getByRole("button", { name: "Confirm reject" });
    expect(confirm).toBeDisabled();
    await userEvent.type(screen.getByLabelText("Reason"), "too loose");
    await userEvent.click(confirm);
    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent("Error 409");
    expect(alert).toHaveTextContent("trading request 7 is applied");
  });

  it("explains a 403 and offers an agent neither kill nor approve", async () => {
    fakeApi({
      "GET /api/trading": () => ({
        status: 403,
        body: { error: { code: "forbidden", message: "agent bot may not read_all", details: { permission: "read_all", role: "agent" } } },
      }),
      "GET /api/trading/requests": () => ({ status: 403, body: { error: { code: "forbidden", message: "no" } } }),
    });
    render(withSession(<Trading />, agent));
    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent("Not allowed for your role");
    expect(alert).toHaveTextContent("read_all");
    expect(screen.queryByRole("button", { name: /Kill/ })).toBeNull();
  });

  it("reads the broker on demand and says when the read failed", async () => {
    const calls = fakeApi({
      "GET /api/trading": () => ({ status: 200, body: { accounts: [status("active")] } }),
      "GET /api/trading/requests": () => ({ status: 200, body: { requests: [] } }),
      "POST /api/trading/accounts/main/sync": () => ({ status: 200, body: { account: "main", ok: false, error: "no stored credential for alpaca/main" } }),
    });
    render(withSession(<Trading />));
    await userEvent.click(await screen.findByRole("button", { name: "Read main from the broker now" }));
    expect(await screen.findByTestId("sync-report")).toHaveTextContent("The broker could not be read: no stored credential for alpaca/main");
    expect(calls.filter((c) => c.method === "POST").map((c) => c.path)).toEqual(["/api/trading/accounts/main/sync"]);
  });

  it("offers no broker read to a role without operate", async () => {
    fakeApi({
      "GET /api/trading": () => ({ status: 200, body: { accounts: [status("reducing")] } }),
      "GET /api/trading/requests": () => ({ status: 200, body: { requests: [request] } }),
    });
    render(withSession(<Trading />, { ...operator, role: "viewer", permissions: ["read_all"] }));
    expect(await screen.findByTestId("trading-state")).toHaveTextContent("REDUCING");
    expect(screen.queryByRole("button", { name: /from the broker/ })).toBeNull();
    expect(screen.queryByRole("button", { name: /Kill/ })).toBeNull();
    expect(screen.getByText("Your role cannot use the kill switch.")).toBeInTheDocument();
    expect(screen.getByText("Your role cannot approve or reject.")).toBeInTheDocument();
  });

  it("shows loading first", () => {
    fakeApi({});
    render(withSession(<Trading />));
    expect(screen.getByRole("status")).toHaveTextContent("Loading trading accounts");
  });
});
