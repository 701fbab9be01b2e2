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

DISPATCH_GATES: Final[tuple[Gate, ...]] = (
    HaltGate(),
    CredentialsGate(),
    PolicyGate(),
    ApprovalGate(),
)


def decide(facts: GateFacts, gates: tuple[Gate, ...] = DISPATCH_GATES) -> Decision:
    return run_pipeline(gates, facts)
