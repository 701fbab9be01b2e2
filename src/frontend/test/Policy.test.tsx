import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import type { Session } from "../api/types";
import { SessionContext } from "../app/session";
import { classifyUnified } from "../components/UnifiedDiff";
import { Policy } from "../views/Policy";
import { agent, fakeApi, operator } from "./fakeApi";

const A = "a".repeat(64);
const B = "b".repeat(64);

function withSession(node: JSX.Element, session: unknown = operator): JSX.Element {
  return <SessionContext.Provider value={{ session: session as Session, expired: () => undefined }}>{node}</SessionContext.Provider>;
}

function page(standing: string, current: string | null = B, acknowledged: string | null = A): Record<string, unknown> {
  return {
    provider: "youtube",
    url: "https://www.youtube.com/t/terms",
    added_by: "autopack",
    added_at: "2026-11-24T01:00:00Z",
    current_hash: current,
    acknowledged_hash: acknowledged,
    normaliser_version: "1",
    verified_at: "2026-11-24T02:00:00Z",
    last_attempt_at: "2026-11-24T02:00:00Z",
    last_error: null,
    standing,
    age_seconds: 7200,
  };
}

const DIFF = "--- acknowledged\n+++ current\n@@ -1,2 +1,2 @@\n Terms\n-Publish only what you may.\n+Publish only what you own.\n";

describe("Policy", () => {
  it("shows each page's snapshot state, the pending diff readably, and acknowledges after a confirmation", async () => {
    let acked = false;
    const calls = fakeApi({
      "GET /api/policy": () => ({
        status: 200,
        body: {
          providers: [
            { provider: "youtube", standing: acked ? "current" : "unacknowledged", freshness_days: 7, pages: [page(acked ? "current" : "unacknowledged", B, acked ? B : A)] },
            { provider: "etsy", standing: "missing", freshness_days: 7, pages: [{ ...page("missing", null, null), provider: "etsy", url: "https://www.etsy.com/legal/terms" }] },
          ],
        },
      }),
      "GET /api/policy/youtube/diff": () => ({
        status: 200,
        body: { provider: "youtube", changes: [{ url: "https://www.youtube.com/t/terms", from_hash: A, to_hash: B, diff: DIFF, ack_command: "autopack policy ack youtube" }] },
      }),
      "POST /api/policy/youtube/ack": () => {
        acked = true;
        return { status: 200, body: { provider: "youtube", acknowledged: [{ url: "https://www.youtube.com/t/terms", from_hash: A, to_hash: B, by: "alice", at: "2026-11-24T03:00:00Z" }] } };
      },
    });
    render(withSession(<Policy />));
    expect(await screen.findByRole("heading", { name: /youtube · unacknowledged/ })).toBeInTheDocument();
    expect(screen.getByRole("heading", { name: /etsy · missing/ })).toBeInTheDocument();
    // Etsy has nothing pending: its diff is never asked for.
    expect(calls.some((c) => c.path.includes("/etsy/diff"))).toBe(false);
    const diff = await screen.findByLabelText("Changes to https://www.youtube.com/t/terms");
    expect(diff).toHaveTextContent("- Publish only what you may.");
    expect(diff).toHaveTextContent("+ Publish only what you own.");
    await userEvent.click(screen.getByRole("button", { name: "Acknowledge change…" }));
    expect(calls.some((c) => c.method === "POST")).toBe(false);
    const dialog = screen.getByRole("alertdialog", { name: "Confirm acknowledgement" });
    await userEvent.click(within(dialog).getByRole("button", { name: /Yes, acknowledge/ }));
    expect(await screen.findByText("Acknowledged 1 page of youtube as alice.")).toBeInTheDocument();
    expect(calls.find((c) => c.method === "POST")?.body).toEqual({ from_hash: A, to_hash: B });
    expect(await screen.findByRole("heading", { name: /youtube · current/ })).toBeInTheDocument();
    // What needs a person comes first: now etsy's missing snapshots.
    expect(screen.getAllByRole("heading", { level: 3 }).map((h) => h.textContent)).toEqual(["etsy · missing", "youtube · current"]);
  });

  it("shows the API's message when acknowledging fails, and no button without decide", async () => {
    fakeApi({
      "GET /api/policy": () => ({ status: 200, body: { providers: [{ provider: "youtube", standing: "unacknowledged", freshness_days: 7, pages: [page("unacknowledged")] }] } }),
      "GET /api/policy/youtube/diff": () => ({
        status: 200,
        body: { provider: "youtube", changes: [{ url: "https://www.youtube.com/t/terms", from_hash: A, to_hash: B, diff: DIFF, ack_command: "x" }] },
      }),
      "POST /api/policy/youtube/ack": () => ({
        status: 409,
        body: { error: { code: "policy_ack_mismatch", message: "the page changed again: read the new diff" } },
      }),
    });
    const view = render(withSession(<Policy />));
    await userEvent.click(await screen.findByRole("button", { name: "Acknowledge change…" }));
    await userEvent.click(screen.getByRole("button", { name: /Yes, acknowledge/ }));
    expect(await screen.findByRole("alert")).toHaveTextContent("the page changed again: read the new diff");
    expect(screen.getByRole("alert")).toHaveTextContent("policy_ack_mismatch");
    view.unmount();
    render(withSession(<Policy />, { ...operator, permissions: ["read_all"] }));
    expect(await screen.findByText("Your role can read this change but not acknowledge it.")).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Acknowledge change…" })).toBeNull();
  });

  it("has a screen for loading, empty, error and 403", async () => {
    fakeApi({ "GET /api/policy": () => ({ status: 200, body: { providers: [] } }) });
    const view = render(withSession(<Policy />));
    expect(screen.getByText(/Loading the policy monitor/)).toBeInTheDocument();
    expect(await screen.findByText("No provider is under the policy monitor.")).toBeInTheDocument();
    view.unmount();
    fakeApi({ "GET /api/policy": () => ({ status: 500, body: { error: { code: "internal_error", message: "the database is unavailable" } } }) });
    const failed = render(withSession(<Policy />));
    expect(await screen.findByRole("alert")).toHaveTextContent("the database is unavailable");
    failed.unmount();
    fakeApi({
      "GET /api/policy": () => ({
        status: 403,
        body: { error: { code: "forbidden", message: "role agent may not read_all", details: { permission: "read_all", role: "agent" } } },
      }),
    });
    render(withSession(<Policy />, agent));
    expect(await screen.findByRole("heading", { name: "Not allowed for your role" })).toBeInTheDocument();
    expect(screen.getByRole("alert")).toHaveTextContent("needs the read_all permission");
  });

  it("classifies unified diff lines", () => {
    expect(classifyUnified(DIFF).map((l) => l.kind)).toEqual(["file", "file", "hunk", "same", "removed", "added"]);
  });
});
