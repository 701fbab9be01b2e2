"""Trading states of an account: ACTIVE, REDUCING (only orders that reduce
exposure), HALTED (no order). A stricter state takes effect at once; a looser
one (resume) needs an approval."""

from __future__ import annotations

import enum
from typing import Final

from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import InvalidInputError


class TradingState(enum.StrEnum):
    ACTIVE = "active"
    REDUCING = "reducing"
    HALTED = "halted"


# Higher is stricter.
STRICTNESS: Final = {TradingState.ACTIVE: 0, TradingState.REDUCING: 1, TradingState.HALTED: 2}


def parse_state(text: str) -> TradingState:
    try:
        return TradingState(text.strip().lower())
    except ValueError:
        raise InvalidInputError(
            f"trading state {text[:20]!r} is not one of active, reducing, halted",
            code=ErrorCode.INVALID_TRADING_STATE,
        ) from None


def loosens(current: TradingState, wanted: TradingState) -> bool:
    """True when going from ``current`` to ``wanted`` allows more orders."""
    return STRICTNESS[wanted] < STRICTNESS[current]
