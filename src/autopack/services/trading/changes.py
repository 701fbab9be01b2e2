"""What each trading change does to the tables, in the caller's transaction.

Immediate changes (a first registration, tightening limits, a stricter state)
and approved requests (``requests``) both come through here, so a change is
written one way whatever asked for it. Each writes its ``trading_events`` row.
A change that loosens (limits, a strategy's hash) voids the promotions it
touches: live trading must be promoted again under the new terms.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, select, update

from autopack.domain.canonical import canonical_json
from autopack.domain.principals import Actor
from autopack.domain.trading.limits import RiskLimits, limits_digest
from autopack.domain.trading.states import TradingState
from autopack.services.trading.records import (
    ACCOUNT_SET,
    ACCOUNTS,
    ACTIVE_PROMOTION,
    LIMITS,
    PROMOTIONS,
    STRATEGIES,
    current_limits,
    ensure_account,
    record_event,
    strategy_hash,
)

GLOBAL = ""  # the account column of events that are not one account's (strategies)


def write_limits(
    conn: Connection,
    account: str,
    strategy: str,
    limits: RiskLimits,
    base_version: int,
    actor: Actor,
    now: datetime,
    *,
    loosened: tuple[str, ...],
) -> str | None:
    """Insert the next version; None, or why not (another change came first)."""
    _, version = current_limits(conn, account, strategy)
    if version != base_version:
        return f"the limits changed since the request (version {base_version} -> {version})"
    ensure_account(conn, account, now, actor)
    conn.execute(
        insert(LIMITS).values(
            account=account,
            strategy=strategy,
            version=version + 1,
            limits=canonical_json(limits.to_json()).decode("utf-8"),
            limits_hash=limits.digest(),
            set_by=actor.name,
            set_at=now,
        )
    )
    record_event(
        conn,
        account,
        "limits_set",
        actor,
        now,
        {
            "strategy": strategy or None,
            "version": version + 1,
            "limits": limits.to_json(),
            "loosened": list(loosened),
        },
    )
    if loosened:
        void_promotions(
            conn,
            account=account,
            strategy=strategy if strategy != ACCOUNT_SET else None,
            reason=f"limits loosened ({', '.join(loosened)})",
            actor=actor,
            now=now,
        )
    return None


def register_strategy(
    conn: Connection, name: str, sha256: str, base_version: int, actor: Actor, now: datetime
) -> str | None:
    current, version = strategy_hash(conn, name)
    if version != base_version:
        return f"strategy {name} changed since the request (version {base_version} -> {version})"
    if current is None:
        conn.execute(
            insert(STRATEGIES).values(
                name=name, sha256=sha256, version=1, registered_by=actor.name, registered_at=now
            )
        )
    else:
        conn.execute(
            update(STRATEGIES)
            .where(STRATEGIES.c.name == name)
            .values(sha256=sha256, version=version + 1, registered_by=actor.name, registered_at=now)
        )
    record_event(
        conn,
        GLOBAL,
        "strategy_registered" if current is None else "strategy_changed",
        actor,
        now,
        {"strategy": name, "sha256": sha256, "previous": current, "version": version + 1},
    )
    if current is not None:
        void_promotions(
            conn, strategy=name, reason=f"strategy {name} changed", actor=actor, now=now
        )
    return None


def set_state(
    conn: Connection,
    account: str,
    state: TradingState,
    reason: str,
    actor: Actor,
    now: datetime,
    *,
    base_version: int | None = None,
    event: str = "state_changed",
    data: dict[str, Any] | None = None,
) -> tuple[str | None, int]:
    """Set the account's state (the row locked first); (why not, event id)."""
    ensure_account(conn, account, now, actor)
    query = select(ACCOUNTS).where(ACCOUNTS.c.account == account)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).mappings().one()
    if base_version is not None and row["state_version"] != base_version:
        return (
            f"the trading state of {account} changed since the request "
            f"(now {row['state']}, version {row['state_version']})",
            0,
        )
    conn.execute(
        update(ACCOUNTS)
        .where(ACCOUNTS.c.account == account)
        .values(
            state=state.value,
            state_reason=reason,
            state_by=actor.name,
            state_at=now,
            state_version=row["state_version"] + 1,
        )
    )
    event_id = record_event(
        conn,
        account,
        event,
        actor,
        now,
        {"from": row["state"], "to": state.value, "reason": reason, **(data or {})},
    )
    return None, event_id


def promote(
    conn: Connection, payload: dict[str, Any], request_id: int, actor: Actor, now: datetime
) -> str | None:
    account, strategy = payload["account"], payload["strategy"]
    registered, _ = strategy_hash(conn, strategy)
    if registered != payload["strategy_hash"]:
        return f"strategy {strategy} changed since the promotion was requested"
    account_limits, _ = current_limits(conn, account)
    strategy_limits, _ = current_limits(conn, account, strategy)
    if account_limits is None:
        return f"account {account} has no risk limits"
    if limits_digest(account_limits, strategy_limits) != payload["limits_hash"]:
        return "the limits changed since the promotion was requested"
    conn.execute(
        update(PROMOTIONS)
        .where(
            PROMOTIONS.c.account == account,
            PROMOTIONS.c.strategy == strategy,
            PROMOTIONS.c.status == ACTIVE_PROMOTION,
        )
        .values(status="superseded", ended_at=now, end_reason=f"request {request_id}")
    )
    promotion_id = conn.execute(
        insert(PROMOTIONS)
        .values(
            account=account,
            strategy=strategy,
            strategy_hash=payload["strategy_hash"],
            limits=canonical_json(payload["limits"]).decode("utf-8"),
            limits_hash=payload["limits_hash"],
            request_id=request_id,
            status=ACTIVE_PROMOTION,
            created_at=now,
            expires_at=now + timedelta(days=int(payload["expires_in_days"])),
        )
        .returning(PROMOTIONS.c.id)
    ).scalar_one()
    record_event(
        conn,
        account,
        "promoted",
        actor,
        now,
        {"promotion": promotion_id, "strategy": strategy, "request": request_id},
    )
    return None


def void_promotions(
    conn: Connection,
    *,
    reason: str,
    actor: Actor,
    now: datetime,
    account: str | None = None,
    strategy: str | None = None,
) -> list[int]:
    query = select(PROMOTIONS.c.id, PROMOTIONS.c.account).where(
        PROMOTIONS.c.status == ACTIVE_PROMOTION
    )
    if account is not None:
        query = query.where(PROMOTIONS.c.account == account)
    if strategy is not None:
        query = query.where(PROMOTIONS.c.strategy == strategy)
    found = conn.execute(query.order_by(PROMOTIONS.c.id)).all()
    for promotion_id, on_account in found:
        conn.execute(
            update(PROMOTIONS)
            .where(PROMOTIONS.c.id == promotion_id, PROMOTIONS.c.status == ACTIVE_PROMOTION)
            .values(status="voided", ended_at=now, end_reason=reason)
        )
        record_event(
            conn,
            on_account,
            "promotion_voided",
            actor,
            now,
            {"promotion": promotion_id, "reason": reason},
        )
    return [int(p) for p, _ in found]
