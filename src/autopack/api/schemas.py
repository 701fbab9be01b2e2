"""Response bodies of every route, and the error answers each route declares.

The models are exact (``extra="forbid"``): a service that returns a field the
model lacks fails the response (a 500 in tests) instead of leaving the OpenAPI
document behind. docs/CANONICAL_API_CONTRACT.md documents the same shapes; its
contract test compares each route's status codes and error codes with the
OpenAPI document both ways.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

from autopack.api.errors import ERROR_CODES_KEY, http_status
from autopack.domain.error_codes import ErrorCode
from autopack.services.trading.service import DEFAULT_PROMOTION_DAYS, MAX_PROMOTION_DAYS


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- errors -------------------------------------------------------------------------


class ErrorInfo(_Body):
    code: ErrorCode = Field(description="Stable machine code (the catalogue).")
    message: str
    details: Any = Field(default=None, description="Present when the error has details.")


class ErrorBody(_Body):
    error: ErrorInfo


AUTH_CODES = (ErrorCode.MISSING_API_KEY, ErrorCode.INVALID_API_KEY, ErrorCode.INVALID_SESSION)


def error_responses(
    *codes: ErrorCode, protected: bool = True, validated: bool = False
) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: each error status it can answer, with the error
    body and the codes it answers under that status (``x-error-codes``).

    ``protected`` adds 401 (the API key); ``validated`` adds 422 (the route has a
    body or parameters the schema can refuse)."""
    by_status: dict[int, list[ErrorCode]] = {}
    for code in (*codes, *(AUTH_CODES if protected else ())):
        status = http_status(code)
        if status is None:
            raise ValueError(f"{code.value} has no fixed HTTP status")
        by_status.setdefault(status, []).append(code)
    if validated:
        by_status.setdefault(422, []).append(ErrorCode.INVALID_REQUEST)
    return {
        status: {
            "model": ErrorBody,
            ERROR_CODES_KEY: sorted(code.value for code in found),
        }
        for status, found in sorted(by_status.items())
    }


def contract_openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """``app.openapi`` without FastAPI's generic 422 answer: every route declares
    its own (``error_responses(validated=True)``), with the real error body."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        schema = build()
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                default = operation.get("responses", {}).get("422", {})
                if "HTTPValidationError" in str(default.get("content", "")):
                    del operation["responses"]["422"]
        components = schema.get("components", {}).get("schemas", {})
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
        return schema

    return openapi


# -- service ------------------------------------------------------------------------


class DatabaseHealth(_Body):
    reachable: bool
    backend: str
    schema_revision: str | None
    schema_head: str
    at_head: bool
    error: str | None = Field(default=None, description="Present when unhealthy: why.")


class HealthBody(_Body):
    status: Literal["ok", "unavailable"]
    version: str
    database: DatabaseHealth


# -- runs ---------------------------------------------------------------------------


class RunBody(_Body):
    run_id: str
    project: str
    family: str
    created_at: str
    directory: str


class RunList(_Body):
    runs: list[RunBody]


# -- publish packets ----------------------------------------------------------------


class PacketMediaBody(_Body):
    name: str
    path: str
    size: int
    sha256: str
    content_type: str


class PolicyRefBody(_Body):
    provider: str
    url: str
    sha256: str


class PacketDocumentBody(_Body):
    schema_: str = Field(alias="schema")
    provider: str
    action: str
    run: dict[str, str] | None
    fields: dict[str, Any]
    disclosures: dict[str, Any]
    compliance: dict[str, Any]
    media: list[PacketMediaBody]
    policy_refs: list[PolicyRefBody]


class PacketBody(_Body):
    packet_id: str
    path: str
    created: bool
    packet: PacketDocumentBody


# -- credentials --------------------------------------------------------------------


class CredentialWarning(_Body):
    code: str
    message: str
    severity: Literal["warning", "critical"]


class CredentialHealthBody(_Body):
    provider: str
    account: str
    kind: str
    environment: str
    status: str
    scopes: list[str]
    expires_at: str | None
    expires_in: int | None
    has_refresh_token: bool
    dispatch_paused: bool
    last_success_at: str | None
    last_failure_at: str | None
    last_error_class: str | None
    last_error_code: str | None
    failure_count: int
    total_failures: int
    refresh_count: int
    reauth_task: str | None
    warnings: list[CredentialWarning]
    updated_at: str


class CredentialHealthAll(_Body):
    status: str
    providers: dict[str, str]
    credentials: list[CredentialHealthBody]


class CredentialHealthOfProvider(_Body):
    provider: str
    status: str
    credentials: list[CredentialHealthBody]


class CredentialEvent(_Body):
    id: int
    provider: str
    account: str
    event: str
    actor: str
    at: str
    data: dict[str, Any]


class CredentialEventList(_Body):
    events: list[CredentialEvent]


# -- external actions ---------------------------------------------------------------


class ActionBody(_Body):
    key: str
    provider: str
    action: str
    account: str
    category: str
    project: str | None
    run_id: str | None
    payload: dict[str, Any]
    payload_hash: str
    request_hash: str
    approval_id: int | None
    requested_by: str
    status: str
    created_at: str
    updated_at: str
    started_at: str | None
    completed_at: str | None
    next_attempt_at: str | None
    attempt_count: int
    retry_count: int
    redispatch_count: int
    lease_owner: str | None
    fencing: int
    lease_expires_at: str | None
    provider_object_id: str | None
    response_summary: Any
    last_error: str | None
    event_count: int


class RenderedStepBody(_Body):
    purpose: str
    method: str
    url: str = Field(description="May hold a {name} an earlier step's answer fills in.")
    headers: dict[str, str]
    body: Any
    encoding: str


class RenderedRequestBody(_Body):
    method: str
    url: str
    headers: dict[str, str]
    body: Any
    provider_idempotency_key: str | None
    encoding: str = Field(default="json", description="How the body goes on the wire.")
    steps: list[RenderedStepBody] = Field(
        default_factory=list,
        description="The requests that follow the first one (a multi-request action), in order.",
    )


class ProposalBody(_Body):
    created: bool
    action: ActionBody
    render: RenderedRequestBody
    request_hash: str


class ActionList(_Body):
    actions: list[ActionBody]
    # Pass back as ``cursor`` for the next page; null on the last page.
    next_cursor: str | None = None


class ChainProblem(_Body):
    key: str
    seq: int
    problem: str


class ChainReport(_Body):
    ok: bool
    actions: int
    events: int
    problems: list[ChainProblem]


class ReconcileReport(_Body):
    expired_leases: int
    expired_approvals: int
    succeeded: list[str]
    retry_wait: list[str]
    needs_attention: list[str]
    still_unknown: list[str]
    settling: list[str]


class ExportBody(_Body):
    path: str
    document: dict[str, Any]


class ApprovalBody(_Body):
    id: int
    status: str
    subject_hash: str
    hashes: list[str]
    category: str
    project: str | None
    requested_by: str
    # The authenticated principal that asked; null when it came from the command line.
    requested_by_principal: int | None
    # 2 under the project's two-person rule.
    required_approvals: int
    decided_by: str | None
    reason: str | None
    created_at: str
    expires_at: str
    decided_at: str | None


class ActionEvent(_Body):
    # Serialized by alias: the wire names are "from" and "to".
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    seq: int
    event: str
    from_status: str | None = Field(alias="from")
    to_status: str = Field(alias="to")
    fencing: int
    actor: str
    at: str
    data: dict[str, Any]
    hash: str


class GateAnswer(_Body):
    """One gate of the dispatch pipeline that does not allow the action now."""

    gate: str
    verdict: str
    code: str | None
    message: str | None


class ActionDetail(_Body):
    action: ActionBody
    approval: ApprovalBody | None
    events: list[ActionEvent]
    waiting_reason: str | None
    gates: list[GateAnswer]
    render: RenderedRequestBody | None = Field(
        description="The dry-run request re-rendered from the stored payload, minus "
        "secrets; null when the provider has no adapter now."
    )
    packet_id: str | None = Field(
        default=None,
        description="The id of the publish packet the payload is (its media are served "
        "by GET /api/packets/{packet_id}/media/{name}); null for any other payload.",
    )


class ApprovalDecision(_Body):
    decision: str
    person: str
    principal_id: int | None
    via: str
    at: str
    reason: str | None


class ApprovalWithKeys(ApprovalBody):
    actions: list[str]
    decisions: list[ApprovalDecision]


class CoveredAction(_Body):
    key: str
    provider: str
    action: str
    account: str
    status: str
    payload_hash: str
    request_hash: str


class ApprovalQueueItem(ApprovalBody):
    actions: list[CoveredAction]


class ApprovalList(_Body):
    approvals: list[ApprovalQueueItem]
    # Pass back as ``cursor`` for the next page; null on the last page.
    next_cursor: str | None = None


# -- halts ----------------------------------------------------------------------------


class NewHalt(_Body):
    scope: str
    reason: str
    # Optional: the authenticated principal engages it; naming another is refused.
    actor: str | None = None


class Halt(_Body):
    id: int
    scope: str
    reason: str
    engaged_by: str
    engaged_at: str
    released_by: str | None
    released_at: str | None
    release_reason: str | None
    engaged: bool


class HaltEvent(_Body):
    event: str
    actor: str
    principal_id: int | None
    via: str
    at: str
    reason: str


class HaltDetail(Halt):
    events: list[HaltEvent]


class HaltList(_Body):
    halts: list[Halt]


# -- principals -------------------------------------------------------------------------


class NewPrincipal(_Body):
    name: str
    role: str


class PrincipalKey(_Body):
    key_id: str
    created_at: str
    last_used_at: str | None
    revoked_at: str | None


class Principal(_Body):
    id: int
    name: str
    role: str
    created_at: str
    created_by: str
    revoked_at: str | None
    keys: list[PrincipalKey]


class PrincipalWithKey(Principal):
    # Shown in this answer only: only its hash is stored.
    api_key: str


class PrincipalList(_Body):
    principals: list[Principal]


# -- policy monitor ------------------------------------------------------------------------


class PolicyPage(_Body):
    provider: str
    url: str
    added_by: str
    added_at: str
    current_hash: str | None
    acknowledged_hash: str | None
    normaliser_version: str | None
    verified_at: str | None
    last_attempt_at: str | None
    last_error: str | None
    # current | stale | missing | unacknowledged
    standing: str
    age_seconds: int | None


class ProviderPolicy(_Body):
    provider: str
    # The worst standing of its pages, or no_pages.
    standing: str
    freshness_days: float
    pages: list[PolicyPage]


class PolicyStatusList(_Body):
    providers: list[ProviderPolicy]


class PolicyChange(_Body):
    url: str
    from_hash: str | None
    to_hash: str
    diff: str
    ack_command: str


class PolicyDiff(_Body):
    provider: str
    changes: list[PolicyChange]


class NewPolicyAck(_Body):
    from_hash: str
    to_hash: str
    # Optional: the authenticated principal acknowledges; naming another is refused.
    actor: str | None = None


class PolicyAckItem(_Body):
    url: str
    from_hash: str
    to_hash: str
    by: str
    at: str


class PolicyAck(_Body):
    provider: str
    acknowledged: list[PolicyAckItem]


# -- console sessions ---------------------------------------------------------------


class Login(_Body):
    api_key: str = Field(max_length=256, description="A principal's API key, exchanged once.")


class WhoAmI(_Body):
    principal: str
    principal_id: int | None
    role: str
    permissions: list[str]
    authenticated_by: Literal["session", "api_key"]
    expires_at: str | None = Field(description="When the session ends; null for an API key.")


class SessionOpened(WhoAmI):
    csrf_token: str = Field(
        description="Also set as the readable autopack_csrf cookie: send it back in "
        "the X-CSRF-Token header of every write."
    )


class SessionEnded(_Body):
    ended: bool


# A polled list answers 304 to a current If-None-Match (api.etag).
NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified: the If-None-Match ETag is still current (no body)."}
}

# -- sub-agent handoff and run memory ------------------------------------------------


class HandoffRun(_Body):
    project: str
    family: str
    run_id: str
    created_at: str


class HandoffOutputSummary(_Body):
    brief_id: str
    path: str
    summary: str
    proposed_actions: list[dict[str, Any]] = Field(
        description="Recorded, never executed: a principal must propose each to the ledger."
    )


class HandoffBody(_Body):
    run: HandoffRun
    context: dict[str, Any] | None = Field(description="handoff/context.json, if generated.")
    briefs: list[str]
    outputs: list[HandoffOutputSummary]
    rejected: list[str] = Field(description="Reason files of refused outputs.")


class NewBrief(_Body):
    task: Literal["research", "plan", "review"]
    goal: str = Field(max_length=2000)


class BriefBody(_Body):
    id: str
    sha256: str = Field(description="SHA-256 of the brief's .json file (outputs cite it).")
    json_path: str
    markdown_path: str
    brief: dict[str, Any]


class OutputProblem(_Body):
    code: str
    pointer: str
    message: str


class AcceptedOutput(_Body):
    accepted: bool
    run_id: str
    path: str
    reason_path: str | None
    brief_id: str | None
    proposed_actions: int
    problems: list[OutputProblem]
    notes: list[str]


class MemoryHit(_Body):
    rank: int
    score: str = Field(description="Similarity, a decimal string (6 places).")
    project: str
    family: str
    run_id: str
    kind: str
    path: str = Field(
        description="Relative to the run directory; a policy diff's (kind policy_diff, "
        "empty project, family and run_id) relative to the workspace."
    )
    sha256: str


class MemoryHits(_Body):
    hits: list[MemoryHit]


# -- notifications ------------------------------------------------------------------


class WebhookSummary(_Body):
    configured: bool
    origin: str | None = Field(description="scheme://host[:port] only: never the path.")
    format: Literal["json", "slack"]


class NotificationCounts(_Body):
    pending: int
    delivered: int
    dead: int


class NotificationFailure(_Body):
    id: str
    at: str
    error_class: Literal["rejected", "unreachable", "no_answer"] | None
    status_code: int | None


class DeadNotification(_Body):
    id: str
    kind: str
    subject: str
    attempts: int
    created_at: str
    error_class: Literal["rejected", "unreachable", "no_answer"] | None
    status_code: int | None


class NotificationStatus(_Body):
    webhook: WebhookSummary
    counts: NotificationCounts
    in_flight: int
    retrying: int
    last_delivered_at: str | None
    last_failure: NotificationFailure | None
    dead: list[DeadNotification]


# -- trading --------------------------------------------------------------------------

# A limit field's value in a change: a decimal string or integer, a list of
# symbols (or one comma-separated string), or null to unset it.
LimitValue = str | int | list[str] | None


class RiskLimitsBody(_Body):
    """A limit set as stored: every field, unset ones null; amounts are decimal strings."""

    max_order_notional: str | None
    max_position_qty: str | None
    max_position_notional: str | None
    max_daily_loss: str | None
    max_drawdown_pct: str | None
    max_orders_per_minute: int | None
    max_orders_per_day: int | None
    symbols: list[str] | None


class TradingLimitSet(_Body):
    version: int
    limits: RiskLimitsBody | None = Field(description="null: an emptied strategy set.")


class TradingBrokerRead(_Body):
    equity: str | None
    last_equity: str | None
    high_water: str | None
    read_at: str | None
    age_seconds: int | None
    read_error: str | None = Field(description="Why the last broker read failed, if it did.")


class TradingExposure(_Body):
    position_qty: str
    position_value: str
    last_price: str | None
    reserved_qty: str | None
    reserved_notional: str | None


class TradingPromotion(_Body):
    id: int
    strategy: str
    strategy_hash: str
    limits_hash: str
    expires_at: str
    expired: bool


class TradingStatus(_Body):
    account: str
    state: Literal["active", "reducing", "halted"]
    state_reason: str | None
    state_by: str
    state_at: str
    live_trading: bool
    broker: TradingBrokerRead
    limits: dict[str, TradingLimitSet] = Field(
        description='By scope: "account", or a strategy name.'
    )
    exposure: dict[str, TradingExposure] = Field(description="By symbol.")
    promotions: list[TradingPromotion]
    pending_requests: int


class TradingStatusList(_Body):
    accounts: list[TradingStatus]


class TradingEvent(_Body):
    id: int
    event: str
    actor: str
    via: str
    at: str
    data: Any


class TradingEventList(_Body):
    account: str
    events: list[TradingEvent]


class TradingSyncReport(_Body):
    account: str
    ok: bool = Field(description="false: the broker read failed (error says why).")
    error: str | None = None
    read_at: str | None = None
    equity: str | None = None
    last_equity: str | None = None
    high_water: str | None = None
    positions: int | None = None
    settled: list[str] | None = None
    released: list[str] | None = None
    halted: str | None = Field(default=None, description="Why the sync halted the account.")


class TradingApproval(_Body):
    approver: str
    via: str
    at: str


class TradingRequest(_Body):
    id: int
    kind: Literal["promote", "limits", "strategy", "resume"]
    account: str
    strategy: str | None
    status: Literal["pending", "applied", "rejected", "voided", "expired"]
    payload: dict[str, Any]
    payload_hash: str = Field(description="Approvals name this hash.")
    required_approvals: int
    requested_by: str
    requested_at: str
    expires_at: str
    decided_at: str | None
    decision: str | None
    approvals: list[TradingApproval]


class TradingRequestList(_Body):
    requests: list[TradingRequest]


class BrokerStep(_Body):
    step: str
    action: str
    key: str = Field(description="The step's ledger action.")
    status: str
    ok: bool
    error: str | None


class TradingDecision(TradingRequest):
    voided_because: str | None
    steps: list[BrokerStep] | None = Field(
        default=None, description="An applied resume: lifting the broker's suspension."
    )


class TradingStrategy(_Body):
    name: str
    sha256: str
    version: int
    registered_by: str
    registered_at: str


class TradingStrategyList(_Body):
    strategies: list[TradingStrategy]


class NewTradingStrategy(_Body):
    name: str = Field(max_length=64)
    sha256: str = Field(max_length=64, description="SHA-256 of its code or config (hex).")


class StrategyChange(_Body):
    applied: bool = Field(description="false: a changed hash is a request that needs approval.")
    strategy: TradingStrategy | None = None
    request: TradingRequest | None = None


class NewTradingLimits(_Body):
    strategy: str | None = Field(
        default=None, max_length=64, description="null: the account's own set."
    )
    limits: dict[str, LimitValue] = Field(description="Fields to change; null unsets one.")


class LimitsChange(_Body):
    applied: bool = Field(description="false: the change allows more; it is a request.")
    limits: RiskLimitsBody | None = None
    version: int | None = None
    loosened: list[str] | None = None
    request: TradingRequest | None = None


class PendingChange(_Body):
    applied: Literal[False]
    request: TradingRequest


class NewTradingKill(_Body):
    reason: str
    flatten: bool = Field(default=False, description="Also close every position.")


class TradingKill(_Body):
    account: str
    state: Literal["halted"]
    event: int
    orders_claimed: int = Field(
        description="Orders claimed on the account before the kill committed (none after)."
    )
    in_flight: list[str] = Field(
        description="Order keys still being sent when the bounded wait ended (empty when ok)."
    )
    steps: list[BrokerStep]
    ok: bool = Field(description="false: a broker step did not succeed (it needs attention).")


class NewTradingReduce(_Body):
    reason: str


class NewTradingResume(_Body):
    reason: str
    to: str = Field(default="active", max_length=20, description="active or reducing.")


class NewTradingPromotion(_Body):
    strategy: str = Field(max_length=64)
    expires_in_days: int = Field(default=DEFAULT_PROMOTION_DAYS, ge=1, le=MAX_PROMOTION_DAYS)


class TradingApprove(_Body):
    hash: str = Field(max_length=64, description="The request's payload_hash (64 hex digits).")


class TradingReject(_Body):
    reason: str
