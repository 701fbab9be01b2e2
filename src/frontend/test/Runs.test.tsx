import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import type { Session } from "../api/types";
import { SessionContext } from "../app/session";
import { Runs } from "../views/Runs";
import { fakeApi, operator } from "./fakeApi";

function withSession(node: JSX.Element, session: unknown = operator): JSX.Element {
  return <SessionContext.Provider value={{ session: session as Session, expired: () => undefined }}>{node}</SessionContext.Provider>;
}

const run = { run_id: "r-20261124", project: "demo", family: "launch", created_at: "2026-11-24T01:00:00Z", directory: "runs/demo/r" };

function handoff(briefs: string[]): Record<string, unknown> {
  return {
    run: { project: "demo", family: "launch", run_id: run.run_id, created_at: run.created_at },
    context: {
      goals: ["Ship the launch video"],
      constraints: ["No public upload before review"],
      open_questions: ["Which thumbnail?"],
      sections: [],
      artifacts: [{ path: "notes.md", sha256: "c".repeat(64) }],
    },
    briefs,
    outputs: [
      {
        brief_id: "b1",
        path: "handoff/outputs/b1.json",
        summary: "Two titles compared",
        proposed_actions: [{ provider: "youtube", action: "video.upload" }],
      },
    ],
    rejected: ["handoff/rejected/x.reason.json"],
  };
}

describe("Runs", () => {
  it("lists runs, shows a run's context, briefs and outputs, and writes a brief", async () => {
    let briefs = ["handoff/briefs/b1.json"];
    const calls = fakeApi({
      "GET /api/runs": () => ({ status: 200, body: { runs: [run] } }),
      "GET /api/runs/r-20261124/handoff": () => ({ status: 200, body: handoff(briefs) }),
      "POST /api/runs/r-20261124/handoff/briefs": () => {
        briefs = [...briefs, "handoff/briefs/b2.json"];
        return { status: 201, body: { id: "b2", sha256: "d".repeat(64), json_path: "handoff/briefs/b2.json", markdown_path: "handoff/briefs/b2.md", brief: {} } };
      },
    });
    render(withSession(<Runs />));
    await userEvent.click(await screen.findByRole("button", { name: /r-20261124/ }));
    const context = await screen.findByRole("region", { name: "Handoff context" });
    expect(context).toHaveTextContent("Ship the launch video");
    expect(context).toHaveTextContent("No public upload before review");
    expect(context).toHaveTextContent("Which thumbnail?");
    expect(context).toHaveTextContent("c".repeat(64));
    // The server's directory is not the operator's business (nor shown).
    expect(screen.queryByText("runs/demo/r")).toBeNull();
    expect(screen.getByRole("list", { name: "Briefs" })).toHaveTextContent("handoff/briefs/b1.json");
    expect(screen.getByRole("list", { name: "Accepted outputs" })).toHaveTextContent("Two titles compared");
    expect(screen.getByText(/1 proposed action/)).toBeInTheDocument();
    expect(screen.getByRole("list", { name: "Refused outputs" })).toHaveTextContent("x.reason.json");
    await userEvent.selectOptions(screen.getByLabelText("Task"), "review");
    await userEvent.type(screen.getByLabelText("Goal"), "Review the titles");
    await userEvent.click(screen.getByRole("button", { name: "Write brief" }));
    expect(await screen.findByText(/Brief b2 written/)).toBeInTheDocument();
    expect(calls.find((c) => c.method === "POST")?.body).toEqual({ task: "review", goal: "Review the titles" });
    expect(await screen.findByText("handoff/briefs/b2.json")).toBeInTheDocument();
  });

  it("filters by project through the API and has empty, error and no-context screens", async () => {
    const calls = fakeApi({
      "GET /api/runs": (call) =>
        call.path.includes("project=nope")
          ? { status: 400, body: { error: { code: "invalid_identifier", message: "project 'nope!' is not a valid identifier" } } }
          : { status: 200, body: { runs: call.path.includes("project=") ? [] : [run] } },
      "GET /api/runs/r-20261124/handoff": () => ({ status: 200, body: { ...handoff([]), context: null, outputs: [], rejected: [] } }),
    });
    const view = render(withSession(<Runs />, { ...operator, permissions: ["read_all"] }));
    await userEvent.click(await screen.findByRole("button", { name: /r-20261124/ }));
    expect(await screen.findByText(/No handoff context yet/)).toBeInTheDocument();
    expect(screen.getByText("No brief written for this run.")).toBeInTheDocument();
    // Without `propose` there is no brief form.
    expect(screen.queryByRole("form", { name: "Write a brief" })).toBeNull();
    await userEvent.type(screen.getByLabelText("Project"), "other");
    expect(await screen.findByText(/No run in project other yet/)).toBeInTheDocument();
    expect(calls.some((c) => c.path.includes("project=other"))).toBe(true);
    view.unmount();
    render(withSession(<Runs />));
    await userEvent.type(await screen.findByLabelText("Project"), "nope");
    expect(await screen.findByRole("alert")).toHaveTextContent("is not a valid identifier");
  });
});
