"""The kill switch's broker steps, each a ledger action with its own outcome.

The HALTED state is committed first (every process refuses new orders from its
next claim on); then, in this process and at once: cancel every open order,
close every position (``--flatten``), and set ``suspend_trade`` at the broker
(last, because closing positions places orders). Each step is proposed already
approved by the person who ran the kill (their command is the decision, bound
to the step's hash), passes halts (protective actions), and is sent at once; a
step the broker proved it did not take (a rate limit, no connection) is tried
again a few times in this command, then goes to ``needs_attention`` and is
reported, never retried silently later. Resuming lifts the suspension the same way.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Final

from sqlalchemy import select

from autopack.domain.ledger import ActionStatus, RetryPolicy
from autopack.domain.principals import Actor
from autopack.services.context import Runtime
from autopack.services.executor import Executor
from autopack.services.ledger import IntentRequest
from autopack.services.ledger.reads import LedgerReads
from autopack.services.providers import ProviderRegistry
from autopack.services.trading.facts import CREDS
from autopack.services.trading.records import BROKER

# A step the broker proved it did not take (429, a refused connection) is tried
# again at once a few times (honouring the broker's reset time up to the cap);
# after that it waits for a person, loudly.
STEP_POLICY: Final = RetryPolicy(
    max_retries=3, base_seconds=0.5, cap_seconds=10.0, when_exhausted=ActionStatus.NEEDS_ATTENTION
)


# A claimable step no gate holds that this process could not claim is being
# looked at by a worker (PostgreSQL skips rows another claim has locked).
CLAIMABLE_NOW: Final = frozenset({ActionStatus.APPROVED.value, ActionStatus.RETRY_WAIT.value})
# How long a step a worker is sending may take before it is reported as is:
# the adapter's request timeout plus a margin.
OTHER_SENDER_SECONDS: Final = 15.0


def kill_steps(flatten: bool) -> list[tuple[str, str, dict[str, Any]]]:
    """(step name, action, payload) in the order they are sent."""
    steps: list[tuple[str, str, dict[str, Any]]] = [("cancel-orders", "orders.cancel_all", {})]
    if flatten:
        steps.append(("close-positions", "positions.close_all", {"cancel_orders": True}))
    steps.append(("suspend", "account.suspend_trading", {"suspend_trade": True}))
    return steps


class BrokerSteps:
    """Proposes and runs broker steps at once, through the ledger."""

    def __init__(self, runtime: Runtime, registry: ProviderRegistry | None = None) -> None:
        self.rt = runtime
        self.executor = Executor(runtime, registry, worker="trading-kill", retry_policy=STEP_POLICY)

    def environment(self, account: str) -> str:
        """The environment of the account's stored key (paper when none is stored:
        the step then waits for a credential like any other action)."""
        with self.rt.engine.connect() as conn:
            found = conn.execute(
                select(CREDS.c.environment).where(
                    CREDS.c.provider == BROKER, CREDS.c.account == account
                )
            ).first()
        return "paper" if found is None else str(found[0])

    def run(
        self,
        account: str,
        prefix: str,
        steps: Sequence[tuple[str, str, dict[str, Any]]],
        actor: Actor,
        reason: str,
    ) -> list[dict[str, Any]]:
        environment = self.environment(account)
        report = []
        for step, action, payload in steps:
            key = f"{prefix}-{step}"
            self.executor.intake.propose(
                IntentRequest(
                    provider=BROKER,
                    action=action,
                    key=key,
                    payload={"environment": environment, **payload},
                    account=account,
                    requested_by=actor.name,
                    requester_principal=actor.principal_id,
                    approved_by=actor.name,
                    approval_reason=reason,
                )
            )
            status, error = self._send(key)
            report.append(
                {
                    "step": step,
                    "action": action,
                    "key": key,
                    "status": status,
                    "ok": status == ActionStatus.SUCCEEDED.value,
                    "error": error,
                }
            )
        return report

    def _send(self, key: str) -> tuple[str, str | None]:
        """Send one proposed step now (again while the broker proves it had no
        effect); (its status, why it waits or failed). A step a worker holds
        (claiming or sending it) is waited for, bounded, and reported as it ends."""
        reads = LedgerReads(self.executor.store, self.executor.gates)
        deadline = time.monotonic() + OTHER_SENDER_SECONDS
        while True:
            claim = self.executor.claim(key)
            if claim is not None:
                done = self.executor.execute(claim)
                if done.status == ActionStatus.RETRY_WAIT.value and done.next_attempt_at:
                    pause = (done.next_attempt_at - self.rt.clock()).total_seconds()
                    time.sleep(max(0.0, pause))
                    continue
                break
            shown = reads.show(key)
            status = shown["action"]["status"]
            taken_elsewhere = status == ActionStatus.DISPATCHING.value or (
                status in CLAIMABLE_NOW and shown["waiting_reason"] is None
            )
            if not taken_elsewhere or time.monotonic() >= deadline:
                break  # done, or held by a gate (no credential, a paused account)
            time.sleep(0.05)
        shown = reads.show(key)
        return shown["action"]["status"], shown["waiting_reason"] or shown["action"]["last_error"]
