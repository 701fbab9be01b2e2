"""The gate contract: may this claimed action go now? Pure: facts in, a decision out.

Every claim path (the worker's claim, the in-process guarded call) and every
"why is this waiting" answer runs the same ordered list of gates over the same
facts (``services.gates`` gathers them from the database). Each gate answers:

- ``allow``: nothing against it;
- ``hold``: not now, it may pass later (a halt, a paused account); the action
  stays as it is and the reason is shown;
- ``refuse``: never (the approval does not hold); the action is taken out of
  the queue and a person decides.

A hold wins over a refusal: while anything holds an action, the pipeline changes
nothing about it (an engaged halt freezes the queue, it never fails actions).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from autopack.domain.error_codes import ErrorCode
from autopack.domain.policy import DEFAULT_FRESHNESS, PageState
from autopack.domain.trading.exposure import TradingFacts


class Verdict(enum.StrEnum):
    ALLOW = "allow"
    HOLD = "hold"
    REFUSE = "refuse"


@dataclass(frozen=True, slots=True)
class GateResult:
    """One gate's answer; ``code`` is stable (error-code catalogue), ``message`` for people."""

    gate: str
    verdict: Verdict
    code: ErrorCode | None = None
    message: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        return {
            "gate": self.gate,
            "verdict": self.verdict.value,
            "code": None if self.code is None else self.code.value,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class ActionFacts:
    provider: str
    action: str
    account: str
    category: str
    payload_hash: str
    attempt_count: int
    # Only lowers risk (the kill switch's steps): halts do not hold it.
    protective: bool = False


@dataclass(frozen=True, slots=True)
class ApprovalFacts:
    status: str
    hashes: tuple[str, ...]
    expires_at: datetime


class CredentialRequirement(enum.StrEnum):
    NONE = "none"  # the provider needs no stored credential (the sandbox)
    OAUTH = "oauth"  # connected through `autopack credentials connect`
    API_KEY = "api_key"  # stored through `autopack credentials add-key`


@dataclass(frozen=True, slots=True)
class CredentialFacts:
    """The provider account's stored credential as dispatch sees it (never a secret)."""

    requirement: CredentialRequirement
    stored: bool = False
    state: str | None = None
    paused: bool = False
    pause_code: str | None = None


@dataclass(frozen=True, slots=True)
class HaltFacts:
    """An engaged halt whose scope covers the action."""

    id: int
    scope: str
    reason: str


@dataclass(frozen=True, slots=True)
class PolicyFacts:
    """The provider's watched policy pages (only for a provider under the policy
    monitor: ``watched`` False means its actions need no policy check)."""

    watched: bool = False
    pages: tuple[PageState, ...] = ()
    freshness: timedelta = DEFAULT_FRESHNESS
    # The (url, snapshot hash) pairs the action's publish packet cites; None when
    # its payload is not a packet. They must be the pages' current acknowledged
    # snapshots when it is sent.
    packet_refs: tuple[tuple[str, str], ...] | None = None


@dataclass(frozen=True, slots=True)
class GateFacts:
    """Everything the gates may look at for one action at one moment."""

    now: datetime
    action: ActionFacts
    approval: ApprovalFacts | None
    credential: CredentialFacts
    halts: tuple[HaltFacts, ...] = ()
    policy: PolicyFacts = PolicyFacts()
    # Present only for an order the trading layer reads (see ``gates.trading``).
    trading: TradingFacts | None = None


class Gate(Protocol):
    """One rule of the pipeline. ``name`` is stable: it appears in holds and docs."""

    @property
    def name(self) -> str: ...

    def check(self, facts: GateFacts) -> GateResult: ...


@dataclass(frozen=True, slots=True)
class Decision:
    """The pipeline's answer: the verdict plus every gate that did not allow."""

    verdict: Verdict
    results: tuple[GateResult, ...]

    @property
    def blocking(self) -> tuple[GateResult, ...]:
        """The answers behind the verdict (holds for a hold, refusals for a refusal)."""
        return tuple(r for r in self.results if r.verdict is self.verdict)

    @property
    def reason(self) -> str | None:
        """One line for people: why the action waits or is refused; None when allowed."""
        if self.verdict is Verdict.ALLOW:
            return None
        return "; ".join(r.message or r.code or r.gate for r in self.blocking)

    @property
    def code(self) -> ErrorCode | None:
        """The stable code of the first blocking gate; None when allowed."""
        blocking = self.blocking
        return blocking[0].code if blocking else None


def run_pipeline(gates: Sequence[Gate], facts: GateFacts) -> Decision:
    """Ask every gate in order; a hold wins over a refusal, a refusal over allow."""
    results = tuple(
        r for r in (gate.check(facts) for gate in gates) if r.verdict is not Verdict.ALLOW
    )
    if any(r.verdict is Verdict.HOLD for r in results):
        return Decision(Verdict.HOLD, results)
    if results:
        return Decision(Verdict.REFUSE, results)
    return Decision(Verdict.ALLOW, ())


def allow(gate: str) -> GateResult:
    return GateResult(gate, Verdict.ALLOW)


def hold(gate: str, code: ErrorCode, message: str) -> GateResult:
    return GateResult(gate, Verdict.HOLD, code, message)


def refuse(gate: str, code: ErrorCode, message: str) -> GateResult:
    return GateResult(gate, Verdict.REFUSE, code, message)


__all__ = [
    "ActionFacts",
    "ApprovalFacts",
    "CredentialFacts",
    "CredentialRequirement",
    "Decision",
    "Gate",
    "GateFacts",
    "GateResult",
    "HaltFacts",
    "PolicyFacts",
    "Verdict",
    "allow",
    "hold",
    "refuse",
    "run_pipeline",
]
