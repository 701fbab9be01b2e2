import { render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { App } from "../app/App";
import { actionDetail, agent, approval, fakeApi, operator } from "./fakeApi";

const unauthenticated = () => ({ status: 401, body: { error: { code: "missing_api_key", message: "send the API key" } } });

describe("App", () => {
  it("shows the login without a session and opens one with the key", async () => {
    let loggedIn = false;
    const calls = fakeApi({
      "GET /api/session": () => (loggedIn ? { status: 200, body: operator } : unauthenticated()),
      "POST /api/session": () => {
        loggedIn = true;
        return { status: 201, body: { ...operator, csrf_token: "t" } };
      },
      "GET /api/approvals": () => ({ status: 200, body: { approvals: [] } }),
    });
    render(<App />);
    const field = await screen.findByLabelText("API key");
    await userEvent.type(field, "apk_0123456789ab_secret");
    await userEvent.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByTestId("who")).toHaveTextContent("alice (operator)");
    expect(calls.find((c) => c.method === "POST")?.body).toEqual({ api_key: "apk_0123456789ab_secret" });
    expect(window.localStorage.length + window.sessionStorage.length).toBe(0);
    expect(await screen.findByText(/Nothing waits for a person/)).toBeInTheDocument();
  });

  it("shows the API's message when the key is refused", async () => {
    fakeApi({
      "GET /api/session": unauthenticated,
      "POST /api/session": () => ({ status: 401, body: { error: { code: "invalid_api_key", message: "that is not a live principal's API key" } } }),
    });
    render(<App />);
    await userEvent.type(await screen.findByLabelText("API key"), "nope");
    await userEvent.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("that is not a live principal's API key");
  });

  it("offers an agent only what its role allows and explains a view it cannot use", async () => {
    fakeApi({
      "GET /api/session": () => ({ status: 200, body: agent }),
      "GET /api/actions": () => ({ status: 200, body: { actions: [] } }),
    });
    render(<App />);
    const nav = await screen.findByRole("navigation", { name: "Console views" });
    expect(within(nav).getAllByRole("link").map((l) => l.textContent)).toEqual(["Actions"]);
    window.location.hash = "#/inbox";
    window.dispatchEvent(new HashChangeEvent("hashchange"));
    expect(await screen.findByRole("alert")).toHaveTextContent("needs the read_all permission");
  });

  it("goes back to the login when a poll answers 401", async () => {
    let alive = true;
    fakeApi({
      "GET /api/session": () => ({ status: 200, body: operator }),
      "GET /api/approvals": () =>
        alive
          ? { status: 200, body: { approvals: [approval(1)] } }
          : { status: 401, body: { error: { code: "invalid_session", message: "log in again" } } },
      "GET /api/actions/vid-1": () => ({ status: 200, body: actionDetail("vid-1", { title: "x" }) }),
    });
    alive = false;
    render(<App />);
    expect(await screen.findByLabelText("API key")).toBeInTheDocument();
    expect(screen.getByRole("status")).toHaveTextContent("Your session ended");
  });
});

describe("sign out", () => {
  it("ends the session with the CSRF header", async () => {
    document.cookie = "autopack_csrf=csrf1";
    const calls = fakeApi({
      "GET /api/session": () => ({ status: 200, body: operator }),
      "GET /api/approvals": () => ({ status: 200, body: { approvals: [] } }),
      "DELETE /api/session": () => ({ status: 200, body: { ended: true } }),
    });
    render(<App />);
    await userEvent.click(await screen.findByRole("button", { name: "Sign out" }));
    await waitFor(() => expect(screen.getByLabelText("API key")).toBeInTheDocument());
    const logout = calls.find((c) => c.method === "DELETE");
    expect(logout?.headers["X-CSRF-Token"]).toBe("csrf1");
  });
});
