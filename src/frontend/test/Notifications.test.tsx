import { render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import type { Session } from "../api/types";
import { SessionContext } from "../app/session";
import { Halts } from "../views/Halts";
import { fakeApi, operator } from "./fakeApi";

function renderHalts(): void {
  render(
    <SessionContext.Provider value={{ session: operator as Session, expired: () => undefined }}>
      <Halts />
    </SessionContext.Provider>,
  );
}

const status = {
  webhook: { configured: true, origin: "https://hooks.example.com", format: "slack" },
  counts: { pending: 2, delivered: 7, dead: 1 },
  in_flight: 1,
  retrying: 1,
  last_delivered_at: "2026-11-24T02:00:00Z",
  last_failure: { id: "ntf_1", at: "2026-11-24T02:05:00Z", error_class: "rejected", status_code: 500 },
  dead: [{ id: "ntf_1", kind: "halt_engaged", subject: "4", attempts: 8, created_at: "2026-11-24T01:00:00Z", error_class: "rejected", status_code: 500 }],
};

describe("Notifications panel (on the halts view)", () => {
  it("shows counts, the last delivery and failure, and the dead ones", async () => {
    fakeApi({
      "GET /api/halts": () => ({ status: 200, body: { halts: [] } }),
      "GET /api/notifications": () => ({ status: 200, body: status }),
    });
    renderHalts();
    const facts = await screen.findByTestId("notification-status");
    expect(facts).toHaveTextContent("https://hooks.example.com (slack)");
    expect(facts).toHaveTextContent("2 (in flight 1, retrying 1)");
    expect(facts).toHaveTextContent("Delivered7");
    expect(facts).toHaveTextContent("2026-11-24 02:00:00Z");
    expect(facts).toHaveTextContent("the receiver refused it (HTTP 500) at 2026-11-24 02:05:00Z");
    expect(screen.getByRole("list", { name: "Dead notifications" })).toHaveTextContent("ntf_1 halt_engaged 4: 8 attempts");
    expect(screen.getByText(/autopack notify retry --all/)).toBeInTheDocument();
  });

  it("says when no webhook is set, and shows the API's error", async () => {
    fakeApi({
      "GET /api/halts": () => ({ status: 200, body: { halts: [] } }),
      "GET /api/notifications": () => ({
        status: 200,
        body: { ...status, webhook: { configured: false, origin: null, format: "json" }, counts: { pending: 0, delivered: 0, dead: 0 }, dead: [], last_failure: null },
      }),
    });
    const view = render(
      <SessionContext.Provider value={{ session: operator as Session, expired: () => undefined }}>
        <Halts />
      </SessionContext.Provider>,
    );
    expect(await screen.findByText(/No webhook is set/)).toBeInTheDocument();
    view.unmount();
    fakeApi({
      "GET /api/halts": () => ({ status: 200, body: { halts: [] } }),
      "GET /api/notifications": () => ({ status: 503, body: { error: { code: "database_unavailable", message: "the database cannot be reached" } } }),
    });
    renderHalts();
    expect(await screen.findByRole("alert")).toHaveTextContent("the database cannot be reached");
  });
});
