"""Halt gate: an engaged halt that covers the action holds it until released.

A protective action (cancel orders, close positions, suspend trading: it only
lowers risk) passes, so the trading kill switch works while everything is halted.
"""

from __future__ import annotations

from typing import Final

from autopack.domain.error_codes import ErrorCode
from autopack.domain.gates import GateFacts, GateResult, allow, hold

NAME: Final = "halt"


class HaltGate:
    name = NAME

    def check(self, facts: GateFacts) -> GateResult:
        if not facts.halts or facts.action.protective:
            return allow(NAME)
        first = min(facts.halts, key=lambda h: h.id)
        ids = ", ".join(str(h.id) for h in sorted(facts.halts, key=lambda h: h.id))
        return hold(
            NAME,
            ErrorCode.HALTED,
            f"halted by halt {ids} ({first.scope}: {first.reason}): "
            f"run `autopack halt release {first.id}` to let it go",
        )
