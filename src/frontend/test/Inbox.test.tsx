import { render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import type { Session } from "../api/types";
import { SessionContext } from "../app/session";
import { Inbox } from "../views/Inbox";
import { HASH, actionDetail, agent, approval, fakeApi, operator } from "./fakeApi";

function renderInbox(session: unknown = operator): void {
  render(
    <SessionContext.Provider value={{ session: session as Session, expired: () => undefined }}>
      <Inbox />
    </SessionContext.Provider>,
  );
}

const detail = (id: number, extra: Record<string, unknown> = {}) => ({
  status: 200,
  body: { ...approval(id), actions: [`vid-${id}`], decisions: [], ...extra },
});

describe("Inbox", () => {
  it("shows loading, then the empty state", async () => {
    fakeApi({ "GET /api/approvals": () => ({ status: 200, body: { approvals: [] } }) });
    renderInbox();
    expect(screen.getByRole("status")).toHaveTextContent("Loading pending approvals");
    expect(await screen.findByText(/Nothing waits for a person/)).toBeInTheDocument();
  });

  it("shows the API's error message", async () => {
    fakeApi({ "GET /api/approvals": () => ({ status: 503, body: { error: { code: "database_unavailable", message: "the database cannot be reached" } } }) });
    renderInbox();
    expect(await screen.findByRole("alert")).toHaveTextContent("the database cannot be reached");
  });

  it("explains a 403", async () => {
    fakeApi({
      "GET /api/approvals": () => ({
        status: 403,
        body: { error: { code: "forbidden", message: "bot (agent) may not read all", details: { permission: "read_all", role: "agent" } } },
      }),
    });
    renderInbox(agent);
    const alert = await screen.findByRole("alert");
    expect(alert).toHaveTextContent("Not allowed for your role");
    expect(alert).toHaveTextContent("read_all");
  });

  it("lists oldest first, shows the exact request, a diff, the two-person state and approves the hash", async () => {
    const calls = fakeApi({
      "GET /api/approvals": () => ({ status: 200, body: { approvals: [approval(1), approval(2, { required_approvals: 2 })] } }),
      "GET /api/approvals/2": () => detail(2, { required_approvals: 2, decisions: [{ decision: "approved", person: "carol", principal_id: 5, via: "api", at: "x", reason: null }] }),
      "GET /api/actions/vid-2": () => ({ status: 200, body: actionDetail("vid-2", { title: "New title" }, "2026-11-24T01:02:00Z") }),
      "GET /api/actions": () => ({
        status: 200,
        body: { actions: [actionDetail("vid-0", { title: "Old title" }, "2026-11-24T01:00:00Z").action] },
      }),
      "POST /api/approvals/2/approve": () => ({ status: 200, body: { ...approval(2), status: "approved", actions: ["vid-2"] } }),
    });
    renderInbox();
    const rows = await screen.findAllByTestId("approval-row");
    expect(rows.map((r) => r.textContent)).toEqual([expect.stringContaining("#1"), expect.stringContaining("#2")]);
    await userEvent.click(within(rows[1]).getByRole("button", { name: /#2/ }));
    const render_ = await screen.findByRole("region", { name: "Dry-run request of vid-2" });
    expect(render_).toHaveTextContent("POST");
    expect(render_).toHaveTextContent("http://127.0.0.1:8765/v1/videos");
    expect(render_).toHaveTextContent("Idempotency-Key");
    expect(screen.getByTestId("subject-hash")).toHaveTextContent(HASH);
    expect(screen.getByTestId("two-person")).toHaveTextContent("Two-person rule: 1 of 2 (carol)");
    const diff = await screen.findByLabelText(/Changes since vid-0/);
    expect(diff).toHaveTextContent('- "title": "Old title"');
    expect(diff).toHaveTextContent('+ "title": "New title"');
    await userEvent.click(screen.getByRole("button", { name: /Approve hash/ }));
    await waitFor(() => expect(calls.some((c) => c.method === "POST")).toBe(true));
    expect(calls.find((c) => c.method === "POST")?.body).toEqual({ hash: HASH });
    expect(await screen.findByText("Approval 2 approved.")).toBeInTheDocument();
  });

  it("rejects with a reason", async () => {
    const calls = fakeApi({
      "GET /api/approvals": () => ({ status: 200, body: { approvals: [approval(1)] } }),
      "GET /api/approvals/1": () => detail(1),
      "GET /api/actions/vid-1": () => ({ status: 200, body: actionDetail("vid-1", { title: "x" }) }),
      "GET /api/actions": () => ({ status: 200, body: { actions: [] } }),
      "POST /api/approvals/1/reject": () => ({ status: 200, body: { ...approval(1), status: "rejected", actions: ["vid-1"] } }),
    });
    renderInbox();
    await userEvent.click(await screen.findByRole("button", { name: /#1/ }));
    await userEvent.type(await screen.findByLabelText("Reason for rejecting"), "wrong title");
    await userEvent.click(screen.getByRole("button", { name: "Reject" }));
    await screen.findByText("Approval 1 rejected.");
    expect(calls.find((c) => c.method === "POST")?.body).toEqual({ reason: "wrong title" });
  });

  it("batch-approves the selected approvals after a confirmation", async () => {
    const calls = fakeApi({
      "GET /api/approvals": () => ({ status: 200, body: { approvals: [approval(1), approval(2), approval(3)] } }),
      "POST /api/approvals/1/approve": () => ({ status: 200, body: {} }),
      "POST /api/approvals/3/approve": () => ({ status: 200, body: {} }),
    });
    renderInbox();
    await userEvent.click(await screen.findByRole("checkbox", { name: "Select approval 1" }));
    await userEvent.click(screen.getByRole("checkbox", { name: "Select approval 3" }));
    await userEvent.click(screen.getByRole("button", { name: "Approve selected (2)" }));
    expect(calls.some((c) => c.method === "POST")).toBe(false);
    await userEvent.click(screen.getByRole("button", { name: "Confirm batch approve" }));
    expect(await screen.findByText("Approved 2 of 2: 1, 3.")).toBeInTheDocument();
    expect(calls.filter((c) => c.method === "POST").map((c) => c.path)).toEqual(["/api/approvals/1/approve", "/api/approvals/3/approve"]);
  });

  it("offers no decision to a role without it", async () => {
    fakeApi({
      "GET /api/approvals": () => ({ status: 200, body: { approvals: [approval(1)] } }),
      "GET /api/approvals/1": () => detail(1),
      "GET /api/actions/vid-1": () => ({ status: 200, body: actionDetail("vid-1", { title: "x" }) }),
      "GET /api/actions": () => ({ status: 200, body: { actions: [] } }),
    });
    renderInbox({ ...operator, permissions: ["read_all", "propose"] });
    await userEvent.click(await screen.findByRole("button", { name: /#1/ }));
    expect(await screen.findByText(/cannot decide|not decide it/)).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: /Approve/ })).toBeNull();
    expect(screen.queryByRole("checkbox")).toBeNull();
  });
});
