"""The dispatch pipeline: the ordered gates every claimed action passes.

Order matters only for the order of reasons shown; the verdict does not depend
on it (see ``run_pipeline``). Publishing, trading and the console add their
gates here, one module each.
"""

from __future__ import annotations

from typing import Final

from autopack.domain.gates import Decision, Gate, GateFacts, run_pipeline
from autopack.domain.gates.approval import ApprovalGate
from autopack.domain.gates.credentials import CredentialsGate
from autopack.domain.gates.halt import HaltGate
from autopack.domain.gates.policy import PolicyGate
from autopack.domain.gates.trading.account_risk import daily_loss_gate, drawdown_gate
from autopack.domain.gates.trading.allowlist import AllowlistGate
from autopack.domain.gates.trading.limits_set import LimitsSetGate
from autopack.domain.gates.trading.live import LiveGate
from autopack.domain.gates.trading.order_notional import OrderNotionalGate
from autopack.domain.gates.trading.order_rate import OrderRateGate
from autopack.domain.gates.trading.position import PositionGate
from autopack.domain.gates.trading.state import TradingStateGate
from autopack.domain.gates.trading.strategy import StrategyGate

DISPATCH_GATES: Final[tuple[Gate, ...]] = (
    HaltGate(),
    CredentialsGate(),
    PolicyGate(),
    ApprovalGate(),
    StrategyGate(),
    LiveGate(),
    TradingStateGate(),
    LimitsSetGate(),
    AllowlistGate(),
    OrderNotionalGate(),
    PositionGate(),
    OrderRateGate(),
    daily_loss_gate(),
    drawdown_gate(),
)


def decide(facts: GateFacts, gates: tuple[Gate, ...] = DISPATCH_GATES) -> Decision:
    return run_pipeline(gates, facts)
