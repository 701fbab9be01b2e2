import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import type { Session } from "../api/types";
import { SessionContext } from "../app/session";
import { Actions } from "../views/Actions";
import { Halts } from "../views/Halts";
import { actionDetail, fakeApi, operator } from "./fakeApi";

function withSession(node: JSX.Element): JSX.Element {
  return <SessionContext.Provider value={{ session: operator as Session, expired: () => undefined }}>{node}</SessionContext.Provider>;
}

const halt = { id: 4, scope: "provider:sandbox", reason: "freeze", engaged_by: "alice", engaged_at: "2026-11-24T01:00:00Z", released_by: null, released_at: null, release_reason: null, engaged: true };

describe("Halts", () => {
  it("engages only after the confirmation step", async () => {
    const calls = fakeApi({
      "GET /api/halts": () => ({ status: 200, body: { halts: [] } }),
      "POST /api/halts": () => ({ status: 201, body: halt }),
    });
    render(withSession(<Halts />));
    expect(await screen.findByText(/No halt is engaged/)).toBeInTheDocument();
    const scope = screen.getByLabelText("Scope");
    await userEvent.clear(scope);
    await userEvent.type(scope, "provider:sandbox");
    await userEvent.type(screen.getByLabelText("Reason"), "freeze");
    await userEvent.click(screen.getByRole("button", { name: "Engage halt…" }));
    expect(screen.getByRole("alertdialog")).toHaveTextContent("Engage this halt?");
    expect(calls.some((c) => c.method === "POST")).toBe(false);
    await userEvent.click(screen.getByRole("button", { name: "Yes, engage halt" }));
    expect(await screen.findByText(/Halt 4 engaged on provider:sandbox/)).toBeInTheDocument();
    expect(calls.find((c) => c.method === "POST")?.body).toEqual({ scope: "provider:sandbox", reason: "freeze" });
  });

  it("releases after a confirmation, and a cancel sends nothing", async () => {
    const calls = fakeApi({
      "GET /api/halts": () => ({ status: 200, body: { halts: [halt] } }),
      "DELETE /api/halts/4": () => ({ status: 200, body: { ...halt, engaged: false } }),
    });
    render(withSession(<Halts />));
    await userEvent.click(await screen.findByRole("button", { name: "Release halt 4…" }));
    await userEvent.click(screen.getByRole("button", { name: "Cancel" }));
    expect(calls.some((c) => c.method === "DELETE")).toBe(false);
    await userEvent.click(screen.getByRole("button", { name: "Release halt 4…" }));
    await userEvent.click(screen.getByRole("button", { name: "Yes, release halt" }));
    expect(await screen.findByText("Halt 4 released.")).toBeInTheDocument();
  });
});

describe("Actions", () => {
  it("filters by status through the API, shows the timeline, object id and why it waits", async () => {
    const waiting = {
      ...actionDetail("vid-9", { title: "x" }),
      waiting_reason: "held by halt 4 (provider:sandbox): release it with autopack halt release 4",
      gates: [{ gate: "halt", verdict: "hold", code: "halted", message: "halt 4 holds provider:sandbox" }],
    };
    const calls = fakeApi({
      "GET /api/actions": () => ({ status: 200, body: { actions: [waiting.action] } }),
      "GET /api/actions/vid-9": () => ({ status: 200, body: waiting }),
    });
    render(withSession(<Actions />));
    await userEvent.selectOptions(await screen.findByLabelText("Status"), "approved");
    expect(calls.some((c) => c.path.includes("status=approved"))).toBe(true);
    await userEvent.click(await screen.findByRole("button", { name: /vid-9/ }));
    expect(await screen.findByTestId("waiting-reason")).toHaveTextContent("held by halt 4");
    expect(screen.getByLabelText("Event timeline")).toHaveTextContent("b".repeat(64));
    expect(screen.getByTestId("provider-object-id")).toHaveTextContent("—");
  });
});
