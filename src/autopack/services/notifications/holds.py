"""Holds: one notification per (action, hold reason), however often it is polled.

A hold changes nothing about an action (the claim passes it over), so there is
no state change to write a notification with; the cause is durable instead (an
engaged halt, a paused or missing credential). Each pass reads the actions the
claim query's pre-filter holds back (``GateService.hold_free_clause``), asks
the same gate pipeline why, and writes a notification only for an (action,
reason) pair it has not written before: the id is derived from the pair, so a
repeat is found by one indexed read and never written twice, even by two
workers at once (``ON CONFLICT DO NOTHING``).

Statements per pass are bounded: one read of candidates, two fact reads per
distinct provider account among them (halts and credentials are per account),
one read of the ids already written, and one write transaction when something
is new.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Final

from sqlalchemy import select

from autopack.domain.gates import ActionFacts, Decision, GateFacts, PolicyFacts, Verdict
from autopack.domain.gates.pipeline import decide
from autopack.domain.ledger import CLAIMABLE
from autopack.domain.notifications import action_held_key, notification_id
from autopack.providers.registry import PROTECTIVE_ACTIONS
from autopack.services.gates import GateService, packet_policy_refs
from autopack.services.ledger.records import ACTIONS
from autopack.services.notifications.outbox import NOTIFICATIONS, Outbox

DEFAULT_SCAN_LIMIT: Final = 500


class HoldScanner:
    """Writes an ``action_held`` notification for each new (action, hold reason)."""

    def __init__(self, outbox: Outbox, gates: GateService, *, limit: int = DEFAULT_SCAN_LIMIT):
        self.outbox = outbox
        self.gates = gates
        self.store = gates.store
        self.limit = limit

    def _held_rows(self, conn: Any, now: Any) -> list[Any]:
        query = (
            select(
                ACTIONS.c.idempotency_key,
                ACTIONS.c.provider,
                ACTIONS.c.action,
                ACTIONS.c.account,
                ACTIONS.c.category,
                ACTIONS.c.project,
                ACTIONS.c.status,
                ACTIONS.c.payload_hash,
                ACTIONS.c.attempt_count,
                ACTIONS.c.payload,
            )
            .where(ACTIONS.c.status.in_([s.value for s in CLAIMABLE]))
            .where(
                ~self.gates.hold_free_clause(
                    ACTIONS.c.provider,
                    ACTIONS.c.account,
                    category=ACTIONS.c.category,
                    now=now,
                    action=ACTIONS.c.action,
                )
            )
            .order_by(ACTIONS.c.created_at, ACTIONS.c.idempotency_key)
            .limit(self.limit)
        )
        return list(conn.execute(query).mappings().all())

    def pending_holds(self) -> list[tuple[Any, Decision]]:
        """(action row, decision) of every held action whose current reason has no
        notification yet."""
        now = self.store.rt.clock()
        found: dict[str, tuple[Any, Decision]] = {}
        with self.store.read() as conn:
            rows = self._held_rows(conn, now)
            facts: dict[tuple[str, str], Any] = {}
            policies: dict[tuple[str, str], PolicyFacts] = {}
            for row in rows:
                pair = (row["provider"], row["account"])
                if pair not in facts:
                    facts[pair] = (
                        self.gates.credential(conn, *pair),
                        self.gates.halts(conn, *pair),
                    )
                credential, halts = facts[pair]
                kind = (row["provider"], row["category"])
                if kind not in policies:
                    policies[kind] = self.gates.policy(conn, *kind)
                policy = policies[kind]
                if policy.watched:
                    # The pages are the provider's; the packet refs are this action's.
                    policy = replace(policy, packet_refs=packet_policy_refs(row["payload"]))
                decision = decide(
                    GateFacts(
                        now=now,
                        action=ActionFacts(
                            provider=row["provider"],
                            action=row["action"],
                            account=row["account"],
                            category=row["category"],
                            payload_hash=row["payload_hash"],
                            attempt_count=int(row["attempt_count"]),
                            protective=(row["provider"], row["action"]) in PROTECTIVE_ACTIONS,
                        ),
                        # Holds come from halts, credentials and policy; the approval
                        # gate never holds, and a hold wins over its refusal.
                        approval=None,
                        credential=credential,
                        halts=halts,
                        policy=policy,
                    ),
                    self.gates.gates,
                )
                if decision.verdict is not Verdict.HOLD or decision.reason is None:
                    continue
                ident = notification_id(action_held_key(row["idempotency_key"], decision.reason))
                found[ident] = (row, decision)
            if not found:
                return []
            written = set(
                conn.execute(
                    select(NOTIFICATIONS.c.notification_id).where(
                        NOTIFICATIONS.c.notification_id.in_(sorted(found))
                    )
                ).scalars()
            )
        return [value for ident, value in sorted(found.items()) if ident not in written]

    def scan(self) -> int:
        """Write the new holds; returns how many were written."""
        new = self.pending_holds()
        if not new:
            return 0
        now = self.store.rt.clock()
        redactor = self.store.redactor
        with self.store.tx() as conn:
            for row, decision in new:
                self.outbox.action_held(conn, row, decision, now, redactor)
        return len(new)
