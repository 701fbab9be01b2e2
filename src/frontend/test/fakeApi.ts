import { vi } from "vitest";

// The HTTP API is the console's one external boundary: component tests answer
// fetch from a route table and record every call.
export interface Call {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: unknown;
}

type Handler = (call: Call) => { status: number; body?: unknown; headers?: Record<string, string> };

export function fakeApi(routes: Record<string, Handler>): Call[] {
  const calls: Call[] = [];
  vi.stubGlobal(
    "fetch",
    vi.fn(async (input: string, init: RequestInit = {}) => {
      const method = init.method ?? "GET";
      const path = String(input);
      const call: Call = {
        method,
        path,
        headers: (init.headers ?? {}) as Record<string, string>,
        body: init.body ? JSON.parse(String(init.body)) : undefined,
      };
      calls.push(call);
      const bare = path.split("?")[0];
      const handler = routes[`${method} ${path}`] ?? routes[`${method} ${bare}`];
      const answer = handler
        ? handler(call)
        : { status: 404, body: { error: { code: "route_not_found", message: `no fake for ${method} ${path}` } } };
      return new Response(answer.status === 304 ? null : JSON.stringify(answer.body ?? {}), {
        status: answer.status,
        headers: { "Content-Type": "application/json", ...(answer.headers ?? {}) },
      });
    }),
  );
  return calls;
}

export const operator = {
  principal: "alice",
  principal_id: 2,
  role: "operator",
  permissions: ["decide", "halt", "operate", "propose", "read_all"],
  authenticated_by: "session",
  expires_at: "2026-11-24T13:00:00Z",
};

export const agent = { ...operator, principal: "bot", principal_id: 3, role: "agent", permissions: ["propose"] };

export const HASH = "a".repeat(64);

export function approval(id: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id,
    status: "pending",
    subject_hash: HASH,
    hashes: [HASH],
    category: "publish",
    project: "demo",
    requested_by: "bot",
    requested_by_principal: 3,
    required_approvals: 1,
    decided_by: null,
    reason: null,
    created_at: `2026-11-24T01:0${id}:00Z`,
    expires_at: "2026-11-25T01:00:00Z",
    decided_at: null,
    actions: [
      { key: `vid-${id}`, provider: "sandbox", action: "video.upload", account: "main", status: "awaiting_approval", payload_hash: HASH, request_hash: HASH },
    ],
    ...extra,
  };
}

export function actionDetail(key: string, payload: unknown, created = "2026-11-24T01:02:00Z"): { action: Record<string, unknown> } & Record<string, unknown> {
  return {
    action: {
      key,
      provider: "sandbox",
      action: "video.upload",
      account: "main",
      category: "publish",
      project: "demo",
      run_id: null,
      payload,
      payload_hash: HASH,
      request_hash: HASH,
      approval_id: 1,
      requested_by: "bot",
      status: "awaiting_approval",
      created_at: created,
      updated_at: created,
      completed_at: null,
      attempt_count: 0,
      provider_object_id: null,
      last_error: null,
    },
    approval: null,
    events: [{ seq: 1, event: "proposed", from: null, to: "awaiting_approval", fencing: 0, actor: "bot", at: created, data: {}, hash: "b".repeat(64) }],
    waiting_reason: null,
    gates: [],
    render: {
      method: "POST",
      url: "http://127.0.0.1:8765/v1/videos",
      headers: { "Content-Type": "application/json", "Idempotency-Key": key },
      body: payload,
      provider_idempotency_key: key,
    },
  };
}
