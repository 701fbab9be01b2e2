"""The trading facade: what the CLI (`autopack trading ...`) and the API
(`/api/trading/...`) call. Every change is written with its principal in
``trading_events``; changes that allow more (a first limit set, loosening, a
changed strategy, resuming, going live) become requests that need approval."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import Connection, func, select

from autopack.domain.canonical import format_utc, parse_json_strict
from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import ConflictError, InvalidInputError, NotFoundError
from autopack.domain.halts import validate_reason
from autopack.domain.ledger import ActionStatus, validate_name
from autopack.domain.principals import Actor, Permission, local_actor
from autopack.domain.trading.limits import RiskLimits, limits_digest, loosened
from autopack.domain.trading.orders import validate_sha256, validate_strategy_name
from autopack.domain.trading.states import TradingState, loosens, parse_state
from autopack.services.context import Runtime
from autopack.services.providers import ProviderRegistry
from autopack.services.trading import changes, requests
from autopack.services.trading.facts import TradingFactsReader, positions_of
from autopack.services.trading.kill import BrokerSteps, kill_steps
from autopack.services.trading.records import (
    ACCOUNT_SET,
    ACCOUNTS,
    ACTIONS,
    ACTIVE_PROMOTION,
    BROKER,
    EVENTS,
    LIMITS,
    ORDER_ACTION,
    PROMOTIONS,
    REQUESTS,
    RESERVATIONS,
    STRATEGIES,
    current_limits,
    ensure_account,
    strategy_hash,
)
from autopack.services.trading.reservations import open_totals
from autopack.services.trading.sync import TradingSync

MAX_PROMOTION_DAYS: Final = 90
DEFAULT_PROMOTION_DAYS: Final = 7
MAX_EVENTS: Final = 200
# How long a kill waits for orders already on their way to the broker: an
# adapter's request timeout (10 s for Alpaca) plus a margin.
DRAIN_SECONDS: Final = 15.0
DRAIN_POLL_SECONDS: Final = 0.05


def _amount(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


class TradingService:
    def __init__(self, runtime: Runtime, registry: ProviderRegistry | None = None) -> None:
        self.rt = runtime
        self._registry = registry

    # -- helpers ------------------------------------------------------------------

    @staticmethod
    def _who(actor: str | Actor, permission: Permission) -> Actor:
        who = local_actor(actor)
        who.require(permission)
        return who

    def _steps(self) -> BrokerSteps:
        return BrokerSteps(self.rt, self._registry)

    # -- strategies -----------------------------------------------------------------

    def register_strategy(self, name: str, sha256: str, *, actor: str | Actor) -> dict[str, Any]:
        """Register a strategy's hash: a new name at once, a changed hash by approval."""
        who = self._who(actor, Permission.OPERATE)
        validate_strategy_name(name)
        validate_sha256(sha256)
        now = self.rt.clock()
        with self.rt.engine.begin() as conn:
            current, version = strategy_hash(conn, name)
            if current == sha256:
                raise ConflictError(
                    f"strategy {name} is already registered with this hash",
                    code=ErrorCode.TRADING_NO_CHANGE,
                )
            if current is None:
                changes.register_strategy(conn, name, sha256, 0, who, now)
                return {"applied": True, "strategy": self._strategy(conn, name)}
            request = requests.create(
                conn,
                kind="strategy",
                account=changes.GLOBAL,
                strategy=name,
                payload={
                    "strategy": name,
                    "sha256": sha256,
                    "base_version": version,
                    "previous": current,
                },
                required=1,
                actor=who,
                now=now,
            )
        return {"applied": False, "request": request}

    @staticmethod
    def _strategy(conn: Connection, name: str) -> dict[str, Any]:
        row = conn.execute(select(STRATEGIES).where(STRATEGIES.c.name == name)).mappings().first()
        if row is None:
            raise NotFoundError(f"no strategy {name}", code=ErrorCode.STRATEGY_NOT_FOUND)
        return {
            "name": row["name"],
            "sha256": row["sha256"],
            "version": row["version"],
            "registered_by": row["registered_by"],
            "registered_at": format_utc(row["registered_at"]),
        }

    def strategy(self, name: str) -> dict[str, Any]:
        validate_strategy_name(name)
        with self.rt.engine.connect() as conn:
            return self._strategy(conn, name)

    def strategies(self) -> list[dict[str, Any]]:
        with self.rt.engine.connect() as conn:
            names = conn.execute(select(STRATEGIES.c.name).order_by(STRATEGIES.c.name)).scalars()
            return [self._strategy(conn, n) for n in names]

    # -- limits ---------------------------------------------------------------------

    def set_limits(
        self,
        account: str,
        wanted: Mapping[str, Any],
        *,
        actor: str | Actor,
        strategy: str | None = None,
    ) -> dict[str, Any]:
        """Change limit fields (a value of None unsets one). Tightening applies at
        once; anything that allows more becomes a request that needs approval."""
        who = self._who(actor, Permission.OPERATE)
        validate_name("account", account)
        scope = ACCOUNT_SET if strategy is None else validate_strategy_name(strategy)
        if not wanted:
            raise InvalidInputError(
                "name at least one limit to set", code=ErrorCode.INVALID_TRADING_LIMITS
            )
        now = self.rt.clock()
        with self.rt.engine.begin() as conn:
            current, version = current_limits(conn, account, scope)
            if scope != ACCOUNT_SET and version and current is None:
                current = RiskLimits()
            new = (current or RiskLimits()).changed(wanted)
            if current is not None and new == current:
                raise ConflictError(
                    "these limits are already in force", code=ErrorCode.TRADING_NO_CHANGE
                )
            base = current if scope == ACCOUNT_SET else (current or RiskLimits())
            looser = loosened(base, new)
            if not looser:
                changes.write_limits(conn, account, scope, new, version, who, now, loosened=())
                return {"applied": True, "limits": new.to_json(), "version": version + 1}
            request = requests.create(
                conn,
                kind="limits",
                account=account,
                strategy=scope,
                payload={
                    "account": account,
                    "strategy": scope,
                    "base_version": version,
                    "limits": new.to_json(),
                    "loosened": list(looser),
                },
                required=1,
                actor=who,
                now=now,
            )
        return {"applied": False, "loosened": list(looser), "request": request}

    # -- states and the kill switch ------------------------------------------------

    def reduce(self, account: str, *, reason: str, actor: str | Actor) -> dict[str, Any]:
        """ACTIVE -> REDUCING at once (only orders that reduce exposure pass)."""
        who = self._who(actor, Permission.HALT)
        validate_name("account", account)
        reason = self.rt.redactor().redact_text(validate_reason(reason))
        now = self.rt.clock()
        with self.rt.engine.begin() as conn:
            state = self._state(conn, account)
            if state is not TradingState.ACTIVE:
                raise ConflictError(
                    f"trading on {account} is {state.value.upper()} already",
                    code=ErrorCode.TRADING_NO_CHANGE,
                )
            changes.set_state(conn, account, TradingState.REDUCING, reason, who, now)
        return self.status(account)

    @staticmethod
    def _state(conn: Connection, account: str) -> TradingState:
        found = conn.execute(select(ACCOUNTS.c.state).where(ACCOUNTS.c.account == account)).first()
        return TradingState.ACTIVE if found is None else TradingState(found[0])

    def kill(
        self, account: str, *, reason: str, actor: str | Actor, flatten: bool = False
    ) -> dict[str, Any]:
        """HALTED at once and durably; then cancel open orders, close positions
        (``flatten``) and suspend trading at the broker, each a ledger action."""
        who = self._who(actor, Permission.HALT)
        validate_name("account", account)
        reason = self.rt.redactor().redact_text(validate_reason(reason))
        now = self.rt.clock()
        with self.rt.engine.begin() as conn:
            ensure_account(conn, account, now, who)
            TradingFactsReader(self.rt).lock_account(conn, account)
            # Under the account's lock: every order claimed before this commit has
            # its reservation now, and none is claimed after it.
            claimed = conn.execute(
                select(func.count()).where(RESERVATIONS.c.account == account)
            ).scalar_one()
            _, event_id = changes.set_state(
                conn,
                account,
                TradingState.HALTED,
                reason,
                who,
                now,
                event="killed",
                data={"flatten": flatten, "orders_claimed": int(claimed)},
            )
        # An order claimed just before the kill may still be on its way to the
        # broker: let it land before cancelling, or it would stay open.
        in_flight = self._drain(account)
        steps = self._steps().run(
            account,
            f"trading-kill-{account}-{event_id}",
            kill_steps(flatten),
            who,
            f"kill switch: {reason}",
        )
        return {
            "account": account,
            "state": TradingState.HALTED.value,
            "event": event_id,
            "orders_claimed": int(claimed),
            "in_flight": in_flight,
            "steps": steps,
            "ok": not in_flight and all(step["ok"] for step in steps),
        }

    def _drain(self, account: str) -> list[str]:
        """Wait (bounded) until no order of ``account`` is being sent; the keys
        still in flight when the wait ends."""
        deadline = time.monotonic() + DRAIN_SECONDS
        query = select(ACTIONS.c.idempotency_key).where(
            ACTIONS.c.provider == BROKER,
            ACTIONS.c.action == ORDER_ACTION,
            ACTIONS.c.account == account,
            ACTIONS.c.status == ActionStatus.DISPATCHING.value,
        )
        while True:
            with self.rt.engine.connect() as conn:
                keys = [str(k) for k in conn.execute(query).scalars()]
            if not keys or time.monotonic() >= deadline:
                return sorted(keys)
            time.sleep(DRAIN_POLL_SECONDS)

    def resume(
        self, account: str, *, reason: str, actor: str | Actor, to: str = "active"
    ) -> dict[str, Any]:
        """Ask to loosen the state (HALTED -> REDUCING/ACTIVE, REDUCING -> ACTIVE)."""
        who = self._who(actor, Permission.HALT)
        validate_name("account", account)
        wanted = parse_state(to)
        reason = self.rt.redactor().redact_text(validate_reason(reason))
        now = self.rt.clock()
        with self.rt.engine.begin() as conn:
            ensure_account(conn, account, now, who)
            row = (
                conn.execute(select(ACCOUNTS).where(ACCOUNTS.c.account == account)).mappings().one()
            )
            current = TradingState(row["state"])
            if not loosens(current, wanted):
                raise ConflictError(
                    f"trading on {account} is {current.value.upper()}: resuming to "
                    f"{wanted.value.upper()} allows nothing more",
                    code=ErrorCode.TRADING_NO_CHANGE,
                )
            request = requests.create(
                conn,
                kind="resume",
                account=account,
                strategy=ACCOUNT_SET,
                payload={
                    "account": account,
                    "to": wanted.value,
                    "from": current.value,
                    "reason": reason,
                    "base_version": row["state_version"],
                },
                required=1,
                actor=who,
                now=now,
            )
        return {"applied": False, "request": request}

    # -- promotions -----------------------------------------------------------------

    def promote(
        self,
        account: str,
        strategy: str,
        *,
        actor: str | Actor,
        expires_in_days: int = DEFAULT_PROMOTION_DAYS,
    ) -> dict[str, Any]:
        """Ask for live trading of ``strategy`` on ``account``, bound to the
        strategy's hash and the limits in force now."""
        who = self._who(actor, Permission.OPERATE)
        validate_name("account", account)
        validate_strategy_name(strategy)
        if not 1 <= expires_in_days <= MAX_PROMOTION_DAYS:
            raise InvalidInputError(
                f"a promotion lasts 1 to {MAX_PROMOTION_DAYS} days",
                code=ErrorCode.INVALID_TRADING_LIMITS,
            )
        now = self.rt.clock()
        with self.rt.engine.begin() as conn:
            registered, _ = strategy_hash(conn, strategy)
            if registered is None:
                raise NotFoundError(
                    f"no strategy {strategy}: register it first", code=ErrorCode.STRATEGY_NOT_FOUND
                )
            account_limits, _ = current_limits(conn, account)
            if account_limits is None:
                raise ConflictError(
                    f"account {account} has no risk limits: set them before promoting",
                    code=ErrorCode.TRADING_LIMITS_MISSING,
                )
            strategy_limits, _ = current_limits(conn, account, strategy)
            limits = {
                "account": account_limits.to_json(),
                "strategy": None if strategy_limits is None else strategy_limits.to_json(),
            }
            request = requests.create(
                conn,
                kind="promote",
                account=account,
                strategy=strategy,
                payload={
                    "account": account,
                    "strategy": strategy,
                    "strategy_hash": registered,
                    "limits": limits,
                    "limits_hash": limits_digest(account_limits, strategy_limits),
                    "expires_in_days": expires_in_days,
                },
                required=self.rt.settings.trading_promotion_approvals,
                actor=who,
                now=now,
            )
        return {"applied": False, "request": request}

    # -- requests -------------------------------------------------------------------

    def approve(self, request_id: int, payload_hash: str, *, actor: str | Actor) -> dict[str, Any]:
        who = self._who(actor, Permission.DECIDE)
        now = self.rt.clock()
        with self.rt.engine.begin() as conn:
            row = requests.locked(conn, request_id)
            status, why_not = requests.approve(conn, row, payload_hash, who, now)
        result = {**self.request(request_id), "voided_because": why_not}
        if status == requests.APPLIED and row["kind"] == "resume":
            # The broker suspension the kill set is lifted by the same person's decision.
            result["steps"] = self._steps().run(
                row["account"],
                f"trading-resume-{row['account']}-{request_id}",
                [("lift-suspension", "account.suspend_trading", {"suspend_trade": False})],
                who,
                f"resume approved (request {request_id})",
            )
        return result

    def reject(self, request_id: int, *, reason: str, actor: str | Actor) -> dict[str, Any]:
        who = self._who(actor, Permission.DECIDE)
        reason = self.rt.redactor().redact_text(validate_reason(reason))
        now = self.rt.clock()
        with self.rt.engine.begin() as conn:
            requests.reject(conn, requests.locked(conn, request_id), reason, who, now)
        return self.request(request_id)

    def request(self, request_id: int) -> dict[str, Any]:
        requests.check_id(request_id)
        with self.rt.engine.connect() as conn:
            row = (
                conn.execute(select(REQUESTS).where(REQUESTS.c.id == request_id)).mappings().first()
            )
            if row is None:
                raise NotFoundError(
                    f"no trading request {request_id}", code=ErrorCode.TRADING_REQUEST_NOT_FOUND
                )
            return requests.request_dict(row, requests.approvals_of(conn, request_id))

    def requests(self, *, pending_only: bool = True) -> list[dict[str, Any]]:
        with self.rt.engine.connect() as conn:
            query = select(REQUESTS).order_by(REQUESTS.c.id)
            if pending_only:
                query = query.where(REQUESTS.c.status == requests.PENDING)
            rows = list(conn.execute(query.limit(500)).mappings())
            return [requests.request_dict(r, requests.approvals_of(conn, r["id"])) for r in rows]

    # -- reads ------------------------------------------------------------------------

    def sync(self, account: str) -> dict[str, Any]:
        validate_name("account", account)
        return TradingSync(self.rt, self._registry).sync(account)

    def accounts(self) -> list[str]:
        with self.rt.engine.connect() as conn:
            return [
                str(a)
                for a in conn.execute(
                    select(ACCOUNTS.c.account).order_by(ACCOUNTS.c.account)
                ).scalars()
            ]

    def status(self, account: str) -> dict[str, Any]:
        """State, limits, exposure, promotions and pending requests of one account."""
        validate_name("account", account)
        now = self.rt.clock()
        with self.rt.engine.connect() as conn:
            row = (
                conn.execute(select(ACCOUNTS).where(ACCOUNTS.c.account == account))
                .mappings()
                .first()
            )
            if row is None:
                raise NotFoundError(
                    f"no trading record for account {account}: set its limits first "
                    f"(`autopack trading limits set --account {account} ...`)",
                    code=ErrorCode.TRADING_ACCOUNT_NOT_FOUND,
                )
            limit_sets = {}
            strategies = conn.execute(
                select(LIMITS.c.strategy)
                .where(LIMITS.c.account == account)
                .distinct()
                .order_by(LIMITS.c.strategy)
            ).scalars()
            for scope in strategies:
                found, version = current_limits(conn, account, scope)
                limit_sets[scope or "account"] = {
                    "version": version,
                    "limits": None if found is None else found.to_json(),
                }
            totals = open_totals(conn, account)
            positions = positions_of(row)
            exposure = {
                symbol: {
                    "position_qty": positions.get(symbol, {}).get("qty", "0"),
                    "position_value": positions.get(symbol, {}).get("value", "0"),
                    "last_price": positions.get(symbol, {}).get("price"),
                    "reserved_qty": _amount(totals.get(symbol, {}).get("qty", Decimal(0))),
                    "reserved_notional": _amount(
                        totals.get(symbol, {}).get("notional", Decimal(0))
                    ),
                }
                for symbol in sorted(set(positions) | set(totals))
            }
            promotions = [
                {
                    "id": p["id"],
                    "strategy": p["strategy"],
                    "strategy_hash": p["strategy_hash"],
                    "limits_hash": p["limits_hash"],
                    "expires_at": format_utc(p["expires_at"]),
                    "expired": p["expires_at"] <= now,
                }
                for p in conn.execute(
                    select(PROMOTIONS)
                    .where(PROMOTIONS.c.account == account, PROMOTIONS.c.status == ACTIVE_PROMOTION)
                    .order_by(PROMOTIONS.c.id)
                ).mappings()
            ]
            pending = conn.execute(
                select(func.count()).where(
                    REQUESTS.c.account == account, REQUESTS.c.status == requests.PENDING
                )
            ).scalar_one()
        return {
            "account": account,
            "state": row["state"],
            "state_reason": row["state_reason"],
            "state_by": row["state_by"],
            "state_at": format_utc(row["state_at"]),
            "live_trading": self.rt.settings.live_trading,
            "broker": {
                "equity": row["equity"],
                "last_equity": row["last_equity"],
                "high_water": row["high_water"],
                "read_at": None if row["read_at"] is None else format_utc(row["read_at"]),
                "age_seconds": None
                if row["read_at"] is None
                else int((now - row["read_at"]).total_seconds()),
                "read_error": row["read_error"],
            },
            "limits": limit_sets,
            "exposure": exposure,
            "promotions": promotions,
            "pending_requests": int(pending),
        }

    def events(self, account: str, *, limit: int = 50) -> list[dict[str, Any]]:
        limit = max(1, min(limit, MAX_EVENTS))
        with self.rt.engine.connect() as conn:
            rows = conn.execute(
                select(EVENTS)
                .where(EVENTS.c.account == account)
                .order_by(EVENTS.c.id.desc())
                .limit(limit)
            ).mappings()
            return [
                {
                    "id": r["id"],
                    "event": r["event"],
                    "actor": r["actor"],
                    "via": r["via"],
                    "at": format_utc(r["at"]),
                    "data": parse_json_strict(r["data"]),
                }
                for r in rows
            ]


def strategy_file_hash(data: bytes) -> str:
    """The registered hash of a strategy's code or config: SHA-256 of its bytes."""
    return hashlib.sha256(data).hexdigest()
