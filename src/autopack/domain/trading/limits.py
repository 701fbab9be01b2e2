"""Risk limits: one set per account (and optionally one per strategy on it).

Every field is optional: an unset field is not checked at that level (a
strategy's set narrows the account's; both apply). Money and quantities are
``Decimal`` and stored as decimal strings, so the limits hash is the same on
every backend. ``loosened`` names the fields whose change allows more than
before: such a change needs an approval and voids promotions; any other change
(tightening) takes effect at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from autopack.domain.canonical import JsonValue, canonical_hash
from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import InvalidInputError

SYMBOL: Final = re.compile(r"[A-Z0-9][A-Z0-9./]{0,20}")
MAX_SYMBOLS: Final = 500
MAX_AMOUNT: Final = Decimal("1e12")
MAX_COUNT: Final = 1_000_000
DECIMAL_FIELDS: Final = (
    "max_order_notional",
    "max_position_qty",
    "max_position_notional",
    "max_daily_loss",
    "max_drawdown_pct",
)
COUNT_FIELDS: Final = ("max_orders_per_minute", "max_orders_per_day")
FIELD_NAMES: Final = (*DECIMAL_FIELDS, *COUNT_FIELDS, "symbols")
# What each field means, for help texts and `trading limits` output.
DESCRIPTIONS: Final[Mapping[str, str]] = {
    "max_order_notional": "largest notional (price x quantity) of one order",
    "max_position_qty": "largest absolute position per symbol, in shares",
    "max_position_notional": "largest absolute position value per symbol",
    "max_daily_loss": "largest loss today (last_equity - equity) before trading halts",
    "max_drawdown_pct": "largest fall from the high-water mark of equity, in percent",
    "max_orders_per_minute": "most orders in any 60 seconds",
    "max_orders_per_day": "most orders in any 24 hours",
    "symbols": "the symbols that may be traded (comma-separated allowlist)",
}


def _bad(field: str, message: str) -> InvalidInputError:
    return InvalidInputError(
        f"risk limit {field}: {message}",
        code=ErrorCode.INVALID_TRADING_LIMITS,
        details={"field": field},
    )


def parse_amount(field: str, value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise _bad(field, "must be a decimal string")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise _bad(field, f"{str(value)[:30]!r} is not a decimal") from None
    if not number.is_finite() or number <= 0 or number > MAX_AMOUNT:
        raise _bad(field, "must be greater than 0 and at most 1e12")
    if field == "max_drawdown_pct" and number >= 100:
        raise _bad(field, "must be below 100 (percent)")
    return number.normalize()


def parse_count(field: str, value: Any) -> int:
    if isinstance(value, bool):
        raise _bad(field, "must be a whole number")
    try:
        number = int(str(value).strip())
    except ValueError:
        raise _bad(field, f"{str(value)[:30]!r} is not a whole number") from None
    if number < 1 or number > MAX_COUNT:
        raise _bad(field, f"must be between 1 and {MAX_COUNT}")
    return number


def parse_symbols(value: Any) -> frozenset[str]:
    items: Iterable[Any]
    if isinstance(value, str):
        items = [part for part in value.split(",") if part.strip()]
    elif isinstance(value, list | tuple | frozenset | set):
        items = value
    else:
        raise _bad("symbols", "must be a comma-separated list of symbols")
    found = set()
    for item in items:
        symbol = str(item).strip().upper()
        if not SYMBOL.fullmatch(symbol):
            raise _bad("symbols", f"{symbol[:24]!r} is not a symbol")
        found.add(symbol)
    if not found:
        raise _bad("symbols", "an allowlist needs at least one symbol (unset it to allow any)")
    if len(found) > MAX_SYMBOLS:
        raise _bad("symbols", f"at most {MAX_SYMBOLS} symbols")
    return frozenset(found)


@dataclass(frozen=True, slots=True)
class RiskLimits:
    max_order_notional: Decimal | None = None
    max_position_qty: Decimal | None = None
    max_position_notional: Decimal | None = None
    max_daily_loss: Decimal | None = None
    max_drawdown_pct: Decimal | None = None
    max_orders_per_minute: int | None = None
    max_orders_per_day: int | None = None
    symbols: frozenset[str] | None = None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> RiskLimits:
        """Parse a stored or requested set; ``None`` values are unset fields."""
        unknown = sorted(set(data) - set(FIELD_NAMES))
        if unknown:
            raise _bad(unknown[0][:40], f"unknown; known: {', '.join(FIELD_NAMES)}")
        return cls().changed(data)

    def changed(self, changes: Mapping[str, Any]) -> RiskLimits:
        """This set with ``changes`` applied (a value of None unsets the field)."""
        values: dict[str, Any] = {}
        for name, value in changes.items():
            if name not in FIELD_NAMES:
                raise _bad(name[:40], f"unknown; known: {', '.join(FIELD_NAMES)}")
            if value is None:
                values[name] = None
            elif name in DECIMAL_FIELDS:
                values[name] = parse_amount(name, value)
            elif name in COUNT_FIELDS:
                values[name] = parse_count(name, value)
            else:
                values[name] = parse_symbols(value)
        return replace(self, **values)

    def to_json(self) -> dict[str, JsonValue]:
        """Every field, unset ones as null: the stored and hashed form."""
        out: dict[str, JsonValue] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                out[f.name] = None
            elif isinstance(value, Decimal):
                out[f.name] = format(value, "f")
            elif isinstance(value, frozenset):
                out[f.name] = sorted(value)
            else:
                out[f.name] = value
        return out

    def digest(self) -> str:
        return canonical_hash(self.to_json())

    @property
    def is_empty(self) -> bool:
        return all(getattr(self, name) is None for name in FIELD_NAMES)


def loosened(old: RiskLimits | None, new: RiskLimits) -> tuple[str, ...]:
    """The fields of ``new`` that allow more than ``old`` (all set fields of a
    first set count: before it nothing was allowed)."""
    if old is None:
        return tuple(name for name in FIELD_NAMES if getattr(new, name) is not None) or ("limits",)
    found = []
    for name in FIELD_NAMES:
        before, after = getattr(old, name), getattr(new, name)
        if before is None:
            continue
        if after is None:
            found.append(name)
        elif name == "symbols":
            if after - before:
                found.append(name)
        elif after > before:
            found.append(name)
    return tuple(found)


def limits_digest(account: RiskLimits | None, strategy: RiskLimits | None) -> str:
    """The hash a promotion binds to: the account's set and the strategy's set."""
    return canonical_hash(
        {
            "account": None if account is None else account.to_json(),
            "strategy": None if strategy is None else strategy.to_json(),
        }
    )
