"""Trading changes that need approval: promote, loosen limits, change a
strategy, resume. A request binds its payload hash; each approval names that
hash and a person other than the requester (distinct people: a promotion needs
``trading_promotion_approvals`` of them, the others one). The approval that
completes the count applies the change in the same transaction; a change whose
ground moved since the request (another change came first) is voided instead,
never applied on top."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import Connection, func, insert, select, update

from autopack.domain.canonical import canonical_hash, canonical_json, format_utc, parse_json_strict
from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import ConflictError, NotFoundError
from autopack.domain.principals import Actor
from autopack.domain.trading.limits import RiskLimits
from autopack.domain.trading.states import TradingState
from autopack.services.trading import changes
from autopack.services.trading.records import APPROVALS, REQUESTS, record_event

PENDING: Final = "pending"
APPLIED: Final = "applied"
REJECTED: Final = "rejected"
VOIDED: Final = "voided"
EXPIRED: Final = "expired"
KINDS: Final = ("promote", "limits", "strategy", "resume")
REQUEST_TTL: Final = timedelta(hours=24)
MAX_REQUEST_ID: Final = 2**31 - 1

Apply = Callable[[Connection, dict[str, Any], int, Actor, datetime], str | None]


def _apply_limits(
    conn: Connection, payload: dict[str, Any], request_id: int, actor: Actor, now: datetime
) -> str | None:
    return changes.write_limits(
        conn,
        payload["account"],
        payload["strategy"],
        RiskLimits.from_mapping(payload["limits"]),
        int(payload["base_version"]),
        actor,
        now,
        loosened=tuple(payload["loosened"]),
    )


def _apply_strategy(
    conn: Connection, payload: dict[str, Any], request_id: int, actor: Actor, now: datetime
) -> str | None:
    return changes.register_strategy(
        conn, payload["strategy"], payload["sha256"], int(payload["base_version"]), actor, now
    )


def _apply_resume(
    conn: Connection, payload: dict[str, Any], request_id: int, actor: Actor, now: datetime
) -> str | None:
    why_not, _ = changes.set_state(
        conn,
        payload["account"],
        TradingState(payload["to"]),
        payload["reason"],
        actor,
        now,
        base_version=int(payload["base_version"]),
        event="resumed",
        data={"request": request_id},
    )
    return why_not


APPLY: Final[dict[str, Apply]] = {
    "promote": changes.promote,
    "limits": _apply_limits,
    "strategy": _apply_strategy,
    "resume": _apply_resume,
}


def request_dict(row: Any, approvals: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    payload = parse_json_strict(row["payload"])
    out = {
        "id": row["id"],
        "kind": row["kind"],
        "account": row["account"],
        "strategy": row["strategy"] or None,
        "status": row["status"],
        "payload": payload,
        "payload_hash": row["payload_hash"],
        "required_approvals": row["required_approvals"],
        "requested_by": row["requested_by"],
        "requested_at": format_utc(row["requested_at"]),
        "expires_at": format_utc(row["expires_at"]),
        "decided_at": None if row["decided_at"] is None else format_utc(row["decided_at"]),
        "decision": row["decision"],
    }
    if approvals is not None:
        out["approvals"] = approvals
    return out


def create(
    conn: Connection,
    *,
    kind: str,
    account: str,
    strategy: str,
    payload: dict[str, Any],
    required: int,
    actor: Actor,
    now: datetime,
) -> dict[str, Any]:
    assert kind in KINDS
    request_id = conn.execute(
        insert(REQUESTS)
        .values(
            kind=kind,
            account=account,
            strategy=strategy,
            payload=canonical_json(payload).decode("utf-8"),
            payload_hash=canonical_hash(payload),
            required_approvals=required,
            status=PENDING,
            requested_by=actor.name,
            requested_by_principal=actor.principal_id,
            requested_at=now,
            expires_at=now + REQUEST_TTL,
        )
        .returning(REQUESTS.c.id)
    ).scalar_one()
    record_event(
        conn,
        account,
        "request_created",
        actor,
        now,
        {"request": request_id, "kind": kind, "payload_hash": canonical_hash(payload)},
    )
    row = conn.execute(select(REQUESTS).where(REQUESTS.c.id == request_id)).mappings().one()
    return request_dict(row, [])


def check_id(request_id: int) -> None:
    if not 1 <= request_id <= MAX_REQUEST_ID:
        # Not found (404 / exit 2): the code's category must match the error class.
        raise NotFoundError(
            f"a trading request id is between 1 and {MAX_REQUEST_ID}",
            code=ErrorCode.TRADING_REQUEST_NOT_FOUND,
        )


def approvals_of(conn: Connection, request_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(APPROVALS).where(APPROVALS.c.request_id == request_id).order_by(APPROVALS.c.id)
    ).mappings()
    return [{"approver": r["approver"], "via": r["via"], "at": format_utc(r["at"])} for r in rows]


def locked(conn: Connection, request_id: int) -> Any:
    check_id(request_id)
    query = select(REQUESTS).where(REQUESTS.c.id == request_id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).mappings().first()
    if row is None:
        raise NotFoundError(
            f"no trading request {request_id}", code=ErrorCode.TRADING_REQUEST_NOT_FOUND
        )
    return row


def _decide(conn: Connection, row: Any, status: str, decision: str, now: datetime) -> None:
    conn.execute(
        update(REQUESTS)
        .where(REQUESTS.c.id == row["id"], REQUESTS.c.status == PENDING)
        .values(status=status, decided_at=now, decision=decision)
    )


def pending_or_raise(conn: Connection, row: Any, now: datetime) -> None:
    if row["status"] == PENDING and row["expires_at"] <= now:
        _decide(conn, row, EXPIRED, "expired before enough approvals", now)
        raise ConflictError(
            f"trading request {row['id']} expired at {format_utc(row['expires_at'])}",
            code=ErrorCode.TRADING_REQUEST_DECIDED,
        )
    if row["status"] != PENDING:
        raise ConflictError(
            f"trading request {row['id']} is {row['status']}: {row['decision'] or ''}".rstrip(": "),
            code=ErrorCode.TRADING_REQUEST_DECIDED,
        )


def approve(
    conn: Connection, row: Any, payload_hash: str, actor: Actor, now: datetime
) -> tuple[str, str | None]:
    """Record ``actor``'s approval; apply when it completes the count.
    Returns (the request's status now, the void reason if voided)."""
    pending_or_raise(conn, row, now)
    if payload_hash != row["payload_hash"]:
        raise ConflictError(
            f"trading request {row['id']} has hash {row['payload_hash']}, not {payload_hash[:64]}: "
            "read it again (`autopack trading requests`) before approving",
            code=ErrorCode.TRADING_REQUEST_HASH,
        )
    if actor.same_person(row["requested_by"], row["requested_by_principal"]):
        raise ConflictError(
            f"{actor.name} asked for trading request {row['id']}: another person approves it",
            code=ErrorCode.SECOND_APPROVER_REQUIRED,
        )
    already = conn.execute(
        select(APPROVALS.c.id).where(
            APPROVALS.c.request_id == row["id"], APPROVALS.c.approver == actor.name
        )
    ).first()
    if already is not None:
        raise ConflictError(
            f"{actor.name} already approved trading request {row['id']}: "
            f"it needs {row['required_approvals']} distinct people",
            code=ErrorCode.SECOND_APPROVER_REQUIRED,
        )
    conn.execute(
        insert(APPROVALS).values(
            request_id=row["id"],
            payload_hash=payload_hash,
            approver=actor.name,
            principal_id=actor.principal_id,
            via=actor.via.value,
            at=now,
        )
    )
    record_event(conn, row["account"], "request_approved", actor, now, {"request": row["id"]})
    count = conn.execute(
        select(func.count()).where(APPROVALS.c.request_id == row["id"])
    ).scalar_one()
    if count < row["required_approvals"]:
        return PENDING, None
    payload = parse_json_strict(row["payload"])
    assert isinstance(payload, dict)
    why_not = APPLY[row["kind"]](conn, payload, int(row["id"]), actor, now)
    if why_not is not None:
        _decide(conn, row, VOIDED, why_not, now)
        record_event(
            conn,
            row["account"],
            "request_voided",
            actor,
            now,
            {"request": row["id"], "reason": why_not},
        )
        return VOIDED, why_not
    _decide(conn, row, APPLIED, f"applied after {count} approvals", now)
    record_event(conn, row["account"], "request_applied", actor, now, {"request": row["id"]})
    return APPLIED, None


def reject(conn: Connection, row: Any, reason: str, actor: Actor, now: datetime) -> None:
    pending_or_raise(conn, row, now)
    _decide(conn, row, REJECTED, f"rejected by {actor.name}: {reason}", now)
    record_event(
        conn,
        row["account"],
        "request_rejected",
        actor,
        now,
        {"request": row["id"], "reason": reason},
    )
