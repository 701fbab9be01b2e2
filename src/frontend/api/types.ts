// Shapes of the documented API (docs/CANONICAL_API_CONTRACT.md).

export type Permission =
  | "propose"
  | "read_all"
  | "decide"
  | "halt"
  | "operate"
  | "credentials"
  | "principals";

export interface Session {
  principal: string;
  principal_id: number | null;
  role: string;
  permissions: Permission[];
  authenticated_by: "session" | "api_key";
  expires_at: string | null;
}

export interface ApprovalAction {
  key: string;
  provider: string;
  action: string;
  account: string;
  status: string;
  payload_hash: string;
  request_hash: string;
}

export interface Approval {
  id: number;
  status: string;
  subject_hash: string;
  hashes: string[];
  category: string;
  project: string | null;
  requested_by: string;
  required_approvals: number;
  decided_by: string | null;
  reason: string | null;
  created_at: string;
  expires_at: string;
  decided_at: string | null;
  actions: ApprovalAction[];
}

export interface Decision {
  decision: string;
  person: string;
  principal_id: number | null;
  via: string;
  at: string;
  reason: string | null;
}

export interface ApprovalDetail extends Omit<Approval, "actions"> {
  actions: string[];
  decisions: Decision[];
}

export interface Action {
  key: string;
  provider: string;
  action: string;
  account: string;
  category: string;
  project: string | null;
  run_id: string | null;
  payload: unknown;
  payload_hash: string;
  request_hash: string;
  approval_id: number | null;
  requested_by: string;
  status: string;
  created_at: string;
  updated_at: string;
  completed_at: string | null;
  attempt_count: number;
  provider_object_id: string | null;
  last_error: string | null;
}

export interface ActionEvent {
  seq: number;
  event: string;
  from: string | null;
  to: string | null;
  fencing: number;
  actor: string;
  at: string;
  data: unknown;
  hash: string;
}

export interface GateAnswer {
  gate: string;
  verdict: string;
  code: string | null;
  message: string;
}

export interface Render {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: unknown;
  provider_idempotency_key: string | null;
}

export interface ActionDetail {
  action: Action;
  approval: Omit<Approval, "actions"> | null;
  events: ActionEvent[];
  waiting_reason: string | null;
  gates: GateAnswer[];
  render: Render | null;
}

export interface Halt {
  id: number;
  scope: string;
  reason: string;
  engaged_by: string;
  engaged_at: string;
  released_by: string | null;
  released_at: string | null;
  release_reason: string | null;
  engaged: boolean;
}

export interface CredentialHealth {
  provider: string;
  account: string;
  status: string;
  [field: string]: unknown;
}

export interface CredentialHealthAll {
  status: string;
  providers: Record<string, string>;
  credentials: CredentialHealth[];
}

export const ACTION_STATUSES = [
  "awaiting_approval",
  "approved",
  "rejected",
  "expired",
  "dispatching",
  "retry_wait",
  "succeeded",
  "failed",
  "unknown",
  "needs_attention",
  "cancelled",
] as const;
