"""`autopack trading ...`: strategies, risk limits, trading states, the kill switch,
promotions to live, and the approval requests that loosen any of them.

Tightening (lower limits, REDUCING, HALTED) applies at once; anything that
allows more (a first limit set, loosening, a changed strategy, resuming, going
live) becomes a request another person approves by its payload hash.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final

import typer

from autopack.cli._common import (
    AS_OPTION,
    EXIT_CHECK_FAILED,
    JSON_OPTION,
    acting_as,
    err,
    out,
    out_json,
    runtime,
)
from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import InvalidInputError
from autopack.domain.ledger import validate_name
from autopack.domain.trading.limits import DESCRIPTIONS, FIELD_NAMES

if TYPE_CHECKING:
    from autopack.services.context import Runtime
    from autopack.services.trading.service import TradingService

app = typer.Typer(
    help=(
        "Trading safety: paper by default; strategies registered by hash; versioned "
        "risk limits per account and strategy; trading states ACTIVE, REDUCING and "
        "HALTED; the kill switch. Tightening applies at once; loosening, resuming and "
        "going live are requests another person approves (`autopack trading approve`)."
    )
)
limits_app = typer.Typer(
    help="Risk limits of an account (or of one strategy on it): show them, change them."
)
strategy_app = typer.Typer(
    help="Strategies: a name bound to the SHA-256 of its code or config file."
)
app.add_typer(limits_app, name="limits")
app.add_typer(strategy_app, name="strategy")

ACCOUNT_HELP: Final = "Alpaca account name (as stored with `autopack credentials add-key`)."
REASON_HELP: Final = "Why (recorded in the trading events)."
MAX_STRATEGY_FILE_BYTES: Final = 64 * 1024 * 1024
MAX_EVENTS_SHOWN: Final = 200


def _service(rt: Runtime) -> TradingService:
    from autopack.services.trading.service import TradingService

    return TradingService(rt)


def _bad_limits(message: str) -> InvalidInputError:
    return InvalidInputError(message, code=ErrorCode.INVALID_TRADING_LIMITS)


def _field_option(name: str) -> Any:
    text = DESCRIPTIONS[name]
    return typer.Option(f"--{name.replace('_', '-')}", help=text[0].upper() + text[1:] + ".")


# -- text rendering ---------------------------------------------------------------------


def _limits_text(limits: dict[str, Any] | None) -> str:
    if limits is None:
        return "none"
    shown = []
    for name in FIELD_NAMES:
        value = limits.get(name)
        if value is None:
            continue
        shown.append(f"{name}={','.join(value) if isinstance(value, list) else value}")
    return " ".join(shown) or "none (all unset)"


def _age(seconds: int | None) -> str:
    return "never read" if seconds is None else f"read {seconds}s ago"


def _status_lines(status: dict[str, Any]) -> list[str]:
    broker = status["broker"]
    reason = f": {status['state_reason']}" if status["state_reason"] else ""
    lines = [
        f"account {status['account']}: {status['state'].upper()}{reason} "
        f"(by {status['state_by']} at {status['state_at']})",
        f"  live trading: {'enabled' if status['live_trading'] else 'off (paper only)'}",
        f"  broker: {_age(broker['age_seconds'])}, equity {broker['equity'] or '-'}, "
        f"last_equity {broker['last_equity'] or '-'}, high_water {broker['high_water'] or '-'}",
    ]
    if broker["read_error"]:
        lines.append(f"  broker read error: {broker['read_error']}")
    if not status["limits"]:
        lines.append("  limits: none (orders are held until limits are set)")
    for scope, entry in status["limits"].items():
        label = "account" if scope == "account" else f"strategy {scope}"
        lines.append(
            f"  limits ({label}, version {entry['version']}): {_limits_text(entry['limits'])}"
        )
    if not status["exposure"]:
        lines.append("  exposure: none")
    for symbol, item in status["exposure"].items():
        lines.append(
            f"  exposure {symbol}: position {item['position_qty']} "
            f"(value {item['position_value']}, last price {item['last_price'] or '-'}), "
            f"reserved {item['reserved_qty']} (notional {item['reserved_notional']})"
        )
    if not status["promotions"]:
        lines.append("  promotions: none")
    for promotion in status["promotions"]:
        expired = " EXPIRED" if promotion["expired"] else ""
        lines.append(
            f"  promotion {promotion['id']}: strategy {promotion['strategy']} "
            f"(sha256 {promotion['strategy_hash'][:12]}, limits {promotion['limits_hash'][:12]}) "
            f"until {promotion['expires_at']}{expired}"
        )
    lines.append(f"  pending requests: {status['pending_requests']}")
    return lines


def _request_line(request: dict[str, Any]) -> str:
    approvals = request.get("approvals") or []
    scope = f" strategy {request['strategy']}" if request["strategy"] else ""
    account = f" account {request['account']}" if request["account"] else ""
    line = (
        f"{request['id']}  {request['kind']}{account}{scope}  {request['status']}  "
        f"{len(approvals)} of {request['required_approvals']} approvals  "
        f"by {request['requested_by']}  hash {request['payload_hash']}  "
        f"expires {request['expires_at']}"
    )
    loosens = request["payload"].get("loosened") if request["kind"] == "limits" else None
    if loosens:
        line += f"  loosens {', '.join(loosens)}"
    if request["decision"]:
        line += f"  ({request['decision']})"
    return line


def _needs_approval(request: dict[str, Any], what: str) -> None:
    out(
        f"{what} needs approval: request {request['id']} "
        f"({request['required_approvals']} approval(s) by someone other than "
        f"{request['requested_by']})"
    )
    out(
        f"approve it with: autopack trading approve {request['id']} "
        f"--hash {request['payload_hash']}"
    )


def _steps_lines(steps: list[dict[str, Any]]) -> list[str]:
    lines = []
    for step in steps:
        error = f": {step['error']}" if step["error"] and not step["ok"] else ""
        lines.append(f"  {step['step']}  {step['action']}  {step['status']}  {step['key']}{error}")
    return lines


def _fail_loudly(account: str, what: str, steps: list[dict[str, Any]]) -> None:
    """Broker steps that did not succeed: name each action key on stderr, exit 1."""
    failed = [s for s in steps if not s["ok"]]
    err(
        f"ATTENTION: {what} on account {account}: {len(failed)} of {len(steps)} broker "
        "step(s) did not succeed and need a person (the Autopack state is recorded; "
        "the broker may not match it):"
    )
    for step in failed:
        err(f"  {step['key']}  {step['status']}: {step['error'] or 'no error recorded'}")
    err(
        "inspect each with `autopack actions show KEY`: needs_attention and failed steps "
        "are never resent on their own; an unknown one is checked by the worker's "
        "reconciler; an approved one waits for what holds it (e.g. a missing credential)"
    )
    raise typer.Exit(EXIT_CHECK_FAILED)


# -- status, sync, events -----------------------------------------------------------------


@app.command("status")
def status(
    account: Annotated[
        str | None, typer.Option(help=ACCOUNT_HELP + " Default: every trading account.")
    ] = None,
    as_json: bool = JSON_OPTION,
) -> None:
    """State and reason, broker read age, limits, exposure, promotions and pending requests."""
    with runtime() as rt:
        service = _service(rt)
        accounts = [account] if account is not None else service.accounts()
        found = [service.status(name) for name in accounts]
    if as_json:
        out_json({"accounts": found})
        return
    if not found:
        out(
            "no trading accounts yet: set an account's limits with "
            "`autopack trading limits set --account A ...`"
        )
    for item in found:
        for line in _status_lines(item):
            out(line)


@app.command("sync")
def sync(
    account: Annotated[str, typer.Option(help=ACCOUNT_HELP)],
    as_json: bool = JSON_OPTION,
) -> None:
    """Read the account, its orders and positions from the broker now; settle
    reservations; HALT on a daily-loss or drawdown breach. Exit 1 when the read failed
    (the last good read stays; orders that need it hold once it is too old)."""
    with runtime() as rt:
        report = _service(rt).sync(account)
    if as_json:
        out_json(report)
    if not report["ok"]:
        err(f"error: broker read of account {account} failed: {report['error']}")
        raise typer.Exit(EXIT_CHECK_FAILED)
    if as_json:
        return
    out(
        f"account {account} read at {report['read_at']}: equity {report['equity']}, "
        f"last_equity {report['last_equity']}, high_water {report['high_water']}, "
        f"{report['positions']} position(s)"
    )
    if report["settled"]:
        out(f"settled: {', '.join(report['settled'])}")
    if report["released"]:
        out(f"released: {', '.join(report['released'])}")
    if report["halted"]:
        out(f"HALTED: {report['halted']}")


@app.command("events")
def events(
    account: Annotated[str, typer.Option(help=ACCOUNT_HELP)],
    limit: Annotated[
        int, typer.Option(min=1, max=MAX_EVENTS_SHOWN, help="How many, newest first.")
    ] = 50,
    as_json: bool = JSON_OPTION,
) -> None:
    """The account's trading history, newest first: every change with its principal."""
    from autopack.domain.canonical import canonical_json

    validate_name("account", account)
    with runtime() as rt:
        found = _service(rt).events(account, limit=limit)
    if as_json:
        out_json({"events": found})
        return
    if not found:
        out(f"no trading events for account {account}")
    for event in found:
        data = canonical_json(event["data"]).decode("utf-8")
        out(
            f"{event['id']}  {event['at']}  {event['event']}  "
            f"by {event['actor']} ({event['via']})  {data}"
        )


# -- limits ---------------------------------------------------------------------------


@limits_app.command("show")
def limits_show(
    account: Annotated[str, typer.Option(help=ACCOUNT_HELP)],
    as_json: bool = JSON_OPTION,
) -> None:
    """The limit sets in force on the account (its own and each strategy's), every
    field with what it means."""
    with runtime() as rt:
        found = _service(rt).status(account)["limits"]
    if as_json:
        out_json({"account": account, "limits": found})
        return
    if not found:
        out(f"account {account} has no limits: its orders are held until they are set")
    for scope, entry in found.items():
        label = "account" if scope == "account" else f"strategy {scope}"
        out(f"{label} limits on {account}, version {entry['version']}:")
        limits = entry["limits"] or {}
        for name in FIELD_NAMES:
            value = limits.get(name)
            shown = (
                "unset"
                if value is None
                else (",".join(value) if isinstance(value, list) else value)
            )
            out(f"  {name} = {shown}  ({DESCRIPTIONS[name]})")


@limits_app.command("set")
def limits_set(
    account: Annotated[str, typer.Option(help=ACCOUNT_HELP)],
    strategy: Annotated[
        str | None, typer.Option(help="Set this strategy's limits on the account instead.")
    ] = None,
    max_order_notional: Annotated[str | None, _field_option("max_order_notional")] = None,
    max_position_qty: Annotated[str | None, _field_option("max_position_qty")] = None,
    max_position_notional: Annotated[str | None, _field_option("max_position_notional")] = None,
    max_daily_loss: Annotated[str | None, _field_option("max_daily_loss")] = None,
    max_drawdown_pct: Annotated[str | None, _field_option("max_drawdown_pct")] = None,
    max_orders_per_minute: Annotated[str | None, _field_option("max_orders_per_minute")] = None,
    max_orders_per_day: Annotated[str | None, _field_option("max_orders_per_day")] = None,
    symbols: Annotated[str | None, _field_option("symbols")] = None,
    unset: Annotated[
        list[str] | None,
        typer.Option(
            "--unset",
            help="Remove a limit (a field name, e.g. max_daily_loss); repeatable. "
            "Removing a limit loosens it.",
        ),
    ] = None,
    actor: Annotated[str | None, AS_OPTION] = None,
    as_json: bool = JSON_OPTION,
) -> None:
    """Change limit fields; the others keep their values. Tightening applies at once;
    a first set, a higher or removed limit, or a wider allowlist becomes a request
    that another person approves."""
    given = {
        "max_order_notional": max_order_notional,
        "max_position_qty": max_position_qty,
        "max_position_notional": max_position_notional,
        "max_daily_loss": max_daily_loss,
        "max_drawdown_pct": max_drawdown_pct,
        "max_orders_per_minute": max_orders_per_minute,
        "max_orders_per_day": max_orders_per_day,
        "symbols": symbols,
    }
    wanted: dict[str, Any] = {name: value for name, value in given.items() if value is not None}
    for raw in unset or []:
        name = raw.strip().lower().replace("-", "_")
        if name not in FIELD_NAMES:
            raise _bad_limits(f"--unset {raw[:40]!r}: not a limit; known: {', '.join(FIELD_NAMES)}")
        if name in wanted:
            raise _bad_limits(f"{name} is both set and unset: choose one")
        wanted[name] = None
    if not wanted:
        raise _bad_limits(
            "name at least one limit to set (e.g. --max-order-notional 1000) or --unset"
        )
    with runtime() as rt:
        result = _service(rt).set_limits(account, wanted, actor=acting_as(actor), strategy=strategy)
    if as_json:
        out_json(result)
        return
    scope = f"strategy {strategy} on account {account}" if strategy else f"account {account}"
    if result["applied"]:
        out(f"limits of {scope} applied at once (tightening), version {result['version']}:")
        out(f"  {_limits_text(result['limits'])}")
        return
    out(f"limits of {scope} loosen {', '.join(result['loosened'])}")
    _needs_approval(result["request"], "this change")


# -- strategies ---------------------------------------------------------------------------


def _strategy_line(strategy: dict[str, Any]) -> str:
    return (
        f"{strategy['name']}  sha256 {strategy['sha256']}  version {strategy['version']}  "
        f"registered by {strategy['registered_by']} at {strategy['registered_at']}"
    )


def _file_bytes(path: Path) -> bytes:
    try:
        if not path.is_file():
            raise InvalidInputError(
                f"--file {str(path)[:200]}: not a readable file", code=ErrorCode.INVALID_INPUT
            )
        if path.stat().st_size > MAX_STRATEGY_FILE_BYTES:
            raise InvalidInputError(
                f"--file {str(path)[:200]}: larger than {MAX_STRATEGY_FILE_BYTES} bytes",
                code=ErrorCode.INVALID_INPUT,
            )
        return path.read_bytes()
    except OSError as exc:
        raise InvalidInputError(
            f"--file {str(path)[:200]}: cannot read it ({exc.strerror or type(exc).__name__})",
            code=ErrorCode.INVALID_INPUT,
        ) from None


@strategy_app.command("register")
def strategy_register(
    name: Annotated[str, typer.Argument(help="Strategy name (what orders name).")],
    file: Annotated[
        Path, typer.Option("--file", help="The strategy's code or config; its SHA-256 is bound.")
    ],
    actor: Annotated[str | None, AS_OPTION] = None,
    as_json: bool = JSON_OPTION,
) -> None:
    """Register a strategy by the SHA-256 of its file: a new name at once; a changed
    file becomes a request (approving it voids the strategy's promotions)."""
    from autopack.services.trading.service import strategy_file_hash

    digest = strategy_file_hash(_file_bytes(file))
    with runtime() as rt:
        result = _service(rt).register_strategy(name, digest, actor=acting_as(actor))
    if as_json:
        out_json(result)
        return
    if result["applied"]:
        out(f"strategy registered: {_strategy_line(result['strategy'])}")
        return
    out(f"strategy {name} changes to sha256 {digest}")
    _needs_approval(result["request"], "the change")


@strategy_app.command("show")
def strategy_show(
    name: Annotated[str, typer.Argument(help="Strategy name.")],
    as_json: bool = JSON_OPTION,
) -> None:
    """One registered strategy: its hash, version and who registered it."""
    with runtime() as rt:
        found = _service(rt).strategy(name)
    if as_json:
        out_json(found)
    else:
        out(_strategy_line(found))


@strategy_app.command("list")
def strategy_list(as_json: bool = JSON_OPTION) -> None:
    """Every registered strategy, by name."""
    with runtime() as rt:
        found = _service(rt).strategies()
    if as_json:
        out_json({"strategies": found})
        return
    if not found:
        out("no strategies registered")
    for strategy in found:
        out(_strategy_line(strategy))


# -- states, kill switch, promotions ------------------------------------------------------


@app.command("promote")
def promote(
    account: Annotated[str, typer.Option(help=ACCOUNT_HELP)],
    strategy: Annotated[str, typer.Option(help="The registered strategy to trade live.")],
    days: Annotated[int, typer.Option(min=1, max=90, help="How long the promotion lasts.")] = 7,
    actor: Annotated[str | None, AS_OPTION] = None,
    as_json: bool = JSON_OPTION,
) -> None:
    """Ask for live trading of a strategy on an account, bound to the strategy's hash
    and the limits in force now. Live also needs AUTOPACK_LIVE_TRADING=true and a
    live credential; a changed strategy or a loosened limit voids the promotion."""
    with runtime() as rt:
        result = _service(rt).promote(
            account, strategy, actor=acting_as(actor), expires_in_days=days
        )
    if as_json:
        out_json(result)
        return
    _needs_approval(result["request"], f"promoting {strategy} on {account} for {days} day(s)")


@app.command("kill")
def kill(
    account: Annotated[str, typer.Option(help=ACCOUNT_HELP)],
    reason: Annotated[str, typer.Option(help=REASON_HELP)],
    flatten: Annotated[
        bool, typer.Option("--flatten", help="Also close every position at the broker.")
    ] = False,
    actor: Annotated[str | None, AS_OPTION] = None,
    as_json: bool = JSON_OPTION,
) -> None:
    """The kill switch: HALTED at once for every process, then at the broker cancel
    open orders, close positions (--flatten) and set suspend_trade. Each broker step
    is a ledger action; exit 1 naming the steps that need attention if any failed."""
    with runtime() as rt:
        result = _service(rt).kill(account, reason=reason, actor=acting_as(actor), flatten=flatten)
    if as_json:
        out_json(result)
    else:
        out(f"account {account} is HALTED (event {result['event']}); broker steps:")
        for line in _steps_lines(result["steps"]):
            out(line)
    if not result["ok"]:
        _fail_loudly(account, "kill switch", result["steps"])


@app.command("reduce")
def reduce(
    account: Annotated[str, typer.Option(help=ACCOUNT_HELP)],
    reason: Annotated[str, typer.Option(help=REASON_HELP)],
    actor: Annotated[str | None, AS_OPTION] = None,
    as_json: bool = JSON_OPTION,
) -> None:
    """ACTIVE -> REDUCING at once: only orders that reduce exposure pass."""
    with runtime() as rt:
        found = _service(rt).reduce(account, reason=reason, actor=acting_as(actor))
    if as_json:
        out_json(found)
    else:
        out(f"account {account} is {found['state'].upper()}: {found['state_reason']}")


@app.command("resume")
def resume(
    account: Annotated[str, typer.Option(help=ACCOUNT_HELP)],
    reason: Annotated[str, typer.Option(help=REASON_HELP)],
    to: Annotated[
        str, typer.Option("--to", help="active or reducing (must allow more than now).")
    ] = "active",
    actor: Annotated[str | None, AS_OPTION] = None,
    as_json: bool = JSON_OPTION,
) -> None:
    """Ask to resume trading (HALTED -> REDUCING/ACTIVE, REDUCING -> ACTIVE). Approving
    the request also lifts suspend_trade at the broker."""
    with runtime() as rt:
        result = _service(rt).resume(account, reason=reason, actor=acting_as(actor), to=to)
    if as_json:
        out_json(result)
        return
    _needs_approval(result["request"], f"resuming {account} to {to.strip().upper()}")


# -- requests ---------------------------------------------------------------------------


@app.command("requests")
def requests_list(
    show_all: Annotated[
        bool, typer.Option("--all", help="Also list decided requests (last 500).")
    ] = False,
    as_json: bool = JSON_OPTION,
) -> None:
    """Trading requests waiting for approval, oldest first: each with its hash."""
    with runtime() as rt:
        found = _service(rt).requests(pending_only=not show_all)
    if as_json:
        out_json({"requests": found})
        return
    if not found:
        out("no pending trading requests" if not show_all else "no trading requests")
    for request in found:
        out(_request_line(request))


REQUEST_ID = typer.Argument(help="Trading request id (from `autopack trading requests`).")


@app.command("approve")
def approve(
    request_id: Annotated[int, REQUEST_ID],
    payload_hash: Annotated[
        str, typer.Option("--hash", help="The request's payload hash, as listed.")
    ],
    actor: Annotated[str | None, AS_OPTION] = None,
    as_json: bool = JSON_OPTION,
) -> None:
    """Approve a trading request by its payload hash (not the requester). The last
    approval needed applies it, unless something changed since: then it is voided
    (exit 1) and must be asked again."""
    with runtime() as rt:
        result = _service(rt).approve(request_id, payload_hash, actor=acting_as(actor))
    steps = result.get("steps") or []
    if as_json:
        out_json(result)
    elif result["status"] == "applied":
        out(f"request {request_id} ({result['kind']}) applied")
        if steps:
            out("broker steps:")
            for line in _steps_lines(steps):
                out(line)
    elif result["status"] == "pending":
        out(
            f"request {request_id} ({result['kind']}) still pending: "
            f"{len(result['approvals'])} of {result['required_approvals']} approvals"
        )
    if result["status"] == "voided":
        err(f"error: request {request_id} was voided: {result['voided_because']}")
        raise typer.Exit(EXIT_CHECK_FAILED)
    if steps and not all(step["ok"] for step in steps):
        _fail_loudly(result["account"], "resume", steps)


@app.command("reject")
def reject(
    request_id: Annotated[int, REQUEST_ID],
    reason: Annotated[str, typer.Option(help=REASON_HELP)],
    actor: Annotated[str | None, AS_OPTION] = None,
    as_json: bool = JSON_OPTION,
) -> None:
    """Reject a pending trading request (recorded with the reason)."""
    with runtime() as rt:
        result = _service(rt).reject(request_id, reason=reason, actor=acting_as(actor))
    if as_json:
        out_json(result)
    else:
        out(f"request {request_id} ({result['kind']}) rejected")
