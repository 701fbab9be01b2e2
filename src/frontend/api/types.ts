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

export interface RenderStep {
  purpose: string;
  method: string;
  url: string;
  headers: Record<string, string>;
  body: unknown;
  encoding: string;
}

export interface Render {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: unknown;
  provider_idempotency_key: string | null;
  encoding?: string;
  steps?: RenderStep[];
}

export interface PacketMedia {
  name: string;
  path: string;
  size: number;
  sha256: string;
  content_type: string;
}

export interface ActionDetail {
  action: Action;
  approval: Omit<Approval, "actions"> | null;
  events: ActionEvent[];
  waiting_reason: string | null;
  gates: GateAnswer[];
  render: Render | null;
  packet_id?: string | null; // set when the payload is a publish packet
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

export interface PolicyPage {
  provider: string;
  url: string;
  added_by: string;
  added_at: string;
  current_hash: string | null;
  acknowledged_hash: string | null;
  normaliser_version: string | null;
  verified_at: string | null;
  last_attempt_at: string | null;
  last_error: string | null;
  standing: string; // current | stale | missing | unacknowledged
  age_seconds: number | null;
}

export interface ProviderPolicy {
  provider: string;
  standing: string; // the worst of its pages, or no_pages
  freshness_days: number;
  pages: PolicyPage[];
}

export interface PolicyChange {
  url: string;
  from_hash: string | null;
  to_hash: string;
  diff: string;
  ack_command: string;
}

export interface PolicyDiff {
  provider: string;
  changes: PolicyChange[];
}

export interface PolicyAck {
  provider: string;
  acknowledged: { url: string; from_hash: string; to_hash: string; by: string; at: string }[];
}

export interface PolicyStatusList {
  providers: ProviderPolicy[];
}

export interface Run {
  run_id: string;
  project: string;
  family: string;
  created_at: string;
  directory: string;
}

export interface HandoffOutput {
  brief_id: string;
  path: string;
  summary: string;
  proposed_actions: Record<string, unknown>[];
}

export interface Handoff {
  run: { project: string; family: string; run_id: string; created_at: string };
  context: Record<string, unknown> | null;
  briefs: string[];
  outputs: HandoffOutput[];
  rejected: string[];
}

export interface Brief {
  id: string;
  sha256: string;
  json_path: string;
  markdown_path: string;
  brief: Record<string, unknown>;
}

export interface NotificationStatus {
  webhook: { configured: boolean; origin: string | null; format: string };
  counts: { pending: number; delivered: number; dead: number };
  in_flight: number;
  retrying: number;
  last_delivered_at: string | null;
  last_failure: { id: string; at: string; error_class: string | null; status_code: number | null } | null;
  dead: { id: string; kind: string; subject: string; attempts: number; created_at: string; error_class: string | null; status_code: number | null }[];
}
