import { describe, expect, it, vi } from "vitest";
import { ApiError, readCookie, request } from "../api/client";
import { diffLines } from "../components/diff";
import { sortedPretty } from "../components/format";
import { fakeApi } from "./fakeApi";

describe("diffLines", () => {
  it("marks removed and added lines and keeps the common ones", () => {
    const lines = diffLines(sortedPretty({ title: "Old", tags: ["a"] }), sortedPretty({ tags: ["a"], title: "New" }));
    expect(lines.filter((l) => l.kind === "removed").map((l) => l.text.trim())).toEqual(['"title": "Old"']);
    expect(lines.filter((l) => l.kind === "added").map((l) => l.text.trim())).toEqual(['"title": "New"']);
    expect(lines.filter((l) => l.kind === "same").length).toBeGreaterThan(2);
  });

  it("finds no change between equal payloads in any key order", () => {
    expect(diffLines(sortedPretty({ a: 1, b: 2 }), sortedPretty({ b: 2, a: 1 })).every((l) => l.kind === "same")).toBe(true);
  });
});

describe("request", () => {
  it("echoes the CSRF cookie on writes only", async () => {
    document.cookie = "autopack_csrf=tok123";
    const calls = fakeApi({ "POST /api/halts": () => ({ status: 201, body: {} }), "GET /api/halts": () => ({ status: 200, body: {} }) });
    await request("/api/halts", { method: "POST", body: { scope: "all" } });
    await request("/api/halts");
    expect(calls[0].headers["X-CSRF-Token"]).toBe("tok123");
    expect(calls[1].headers["X-CSRF-Token"]).toBeUndefined();
  });

  it("sends If-None-Match and reports 304 with no data", async () => {
    const calls = fakeApi({ "GET /api/halts": () => ({ status: 304, headers: { ETag: '"e1"' } }) });
    const answer = await request("/api/halts", { etag: '"e1"' });
    expect(calls[0].headers["If-None-Match"]).toBe('"e1"');
    expect(answer).toEqual({ status: 304, data: null, etag: '"e1"' });
  });

  it("turns the API's error body into an ApiError with its code and message", async () => {
    fakeApi({ "GET /api/approvals": () => ({ status: 403, body: { error: { code: "forbidden", message: "bot (agent) may not read all" } } }) });
    const failure = await request("/api/approvals").catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ApiError);
    expect((failure as ApiError).status).toBe(403);
    expect((failure as ApiError).code).toBe("forbidden");
    expect((failure as ApiError).message).toBe("bot (agent) may not read all");
  });

  it("reads one cookie among several", () => {
    expect(readCookie("autopack_csrf", "a=1; autopack_csrf=x%3Dy; b=2")).toBe("x=y");
    expect(readCookie("missing", "a=1")).toBeNull();
    expect(vi.isMockFunction(fetch)).toBe(false);
  });
});
