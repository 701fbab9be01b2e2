// Shapes of the trading routes (docs/CANONICAL_API_CONTRACT.md, "Trading").

export type TradingState = "active" | "reducing" | "halted";

export type RiskLimits = Record<string, string | number | string[] | null>;

export interface LimitSet {
  version: number;
  limits: RiskLimits | null;
}

export interface Exposure {
  position_qty: string;
  position_value: string;
  last_price: string | null;
  reserved_qty: string | null;
  reserved_notional: string | null;
}

export interface Promotion {
  id: number;
  strategy: string;
  strategy_hash: string;
  limits_hash: string;
  expires_at: string;
  expired: boolean;
}

export interface TradingStatus {
  account: string;
  state: TradingState;
  state_reason: string | null;
  state_by: string;
  state_at: string;
  live_trading: boolean;
  broker: {
    equity: string | null;
    last_equity: string | null;
    high_water: string | null;
    read_at: string | null;
    age_seconds: number | null;
    read_error: string | null;
  };
  limits: Record<string, LimitSet>;
  exposure: Record<string, Exposure>;
  promotions: Promotion[];
  pending_requests: number;
}

export interface TradingRequest {
  id: number;
  kind: "promote" | "limits" | "strategy" | "resume";
  account: string;
  strategy: string | null;
  status: string;
  payload: Record<string, unknown>;
  payload_hash: string;
  required_approvals: number;
  requested_by: string;
  requested_at: string;
  expires_at: string;
  decided_at: string | null;
  decision: string | null;
  approvals: { approver: string; via: string; at: string }[];
}

export interface BrokerStep {
  step: string;
  action: string;
  key: string;
  status: string;
  ok: boolean;
  error: string | null;
}

export interface KillResult {
  account: string;
  state: "halted";
  event: number;
  steps: BrokerStep[];
  ok: boolean;
}

export interface Decision extends TradingRequest {
  voided_because: string | null;
  steps?: BrokerStep[] | null;
}

export interface SyncReport {
  account: string;
  ok: boolean;
  error?: string | null;
  read_at?: string | null;
  positions?: number | null;
  halted?: string | null;
}
