"""Runs the gate pipeline for every claim path and every "why is it waiting" answer.

The facts come from the database in the caller's transaction (the claim's, the
guarded call's, or a read snapshot for ``actions show``); the decision comes from
the pure gates in ``domain.gates``. The claim query may pre-filter in SQL
(``hold_free_clause``) so held actions are not even read; a property test keeps
that filter and the pipeline in agreement on random states.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import ColumnElement, Connection, Table, and_, exists, false, or_, select, tuple_

from autopack.db.models import ApprovalRow, CredentialRow, HaltRow, PolicyPageRow
from autopack.domain.canonical import parse_json_strict
from autopack.domain.credentials import StoredState
from autopack.domain.gates import (
    ActionFacts,
    ApprovalFacts,
    CredentialFacts,
    CredentialRequirement,
    Decision,
    Gate,
    GateFacts,
    HaltFacts,
    PolicyFacts,
)
from autopack.domain.gates.pipeline import DISPATCH_GATES, decide
from autopack.domain.gates.policy import GATED_CATEGORIES
from autopack.domain.packets import is_packet
from autopack.providers.registry import (
    API_KEY_PROFILES,
    OAUTH_PROFILES,
    POLICY_PAGES,
    PROTECTIVE_ACTIONS,
)
from autopack.services.policy_monitor import freshness_window, page_states
from autopack.services.trading.facts import TradingFactsReader
from autopack.services.trading.records import is_order
from autopack.services.trading.reservations import reserve

if TYPE_CHECKING:
    from autopack.services.ledger.store import LedgerStore

APPROVALS = cast(Table, ApprovalRow.__table__)
CREDS = cast(Table, CredentialRow.__table__)
HALTS = cast(Table, HaltRow.__table__)
POLICY_PAGES_TABLE = cast(Table, PolicyPageRow.__table__)


def default_requirements() -> dict[str, CredentialRequirement]:
    """Which providers dispatch only with a stored credential, and of which kind."""
    found = dict.fromkeys(OAUTH_PROFILES, CredentialRequirement.OAUTH)
    found.update(dict.fromkeys(API_KEY_PROFILES, CredentialRequirement.API_KEY))
    return found


class GateService:
    """Gathers the facts for one action and asks the pipeline."""

    def __init__(
        self,
        store: LedgerStore,
        *,
        requirements: Mapping[str, CredentialRequirement] | None = None,
        gates: tuple[Gate, ...] = DISPATCH_GATES,
        policy_providers: frozenset[str] | None = None,
        freshness: timedelta | None = None,
    ) -> None:
        self.store = store
        self.requirements = dict(default_requirements() if requirements is None else requirements)
        self.gates = gates
        # Providers under the policy monitor: their publish and list actions are gated.
        self.policy_providers = (
            frozenset(POLICY_PAGES) if policy_providers is None else policy_providers
        )
        self.freshness = freshness if freshness is not None else freshness_window(store.rt)
        self.trading = TradingFactsReader(store.rt)

    # -- facts ----------------------------------------------------------------------

    def halts(self, conn: Connection | Any, provider: str, account: str) -> tuple[HaltFacts, ...]:
        return tuple(
            HaltFacts(*found) for found in self.store.covering_halts(conn, provider, account)
        )

    def credential(self, conn: Connection | Any, provider: str, account: str) -> CredentialFacts:
        requirement = self.requirements.get(provider, CredentialRequirement.NONE)
        if requirement is CredentialRequirement.NONE:
            return CredentialFacts(requirement)
        stored = self.store.credential_state(conn, provider, account)
        if stored is None:
            return CredentialFacts(requirement)
        state, paused, code = stored
        return CredentialFacts(
            requirement, stored=True, state=state, paused=paused, pause_code=code
        )

    def policy(
        self, conn: Connection | Any, provider: str, category: str, payload: str | None = None
    ) -> PolicyFacts:
        if provider not in self.policy_providers or category not in GATED_CATEGORIES:
            return PolicyFacts()  # not read: the policy gate allows it anyway
        return PolicyFacts(
            watched=True,
            pages=page_states(conn, provider),
            freshness=self.freshness,
            packet_refs=packet_policy_refs(payload),
        )

    @staticmethod
    def approval(conn: Connection, approval_id: int | None) -> ApprovalFacts | None:
        if approval_id is None:
            return None
        row = (
            conn.execute(
                select(APPROVALS.c.status, APPROVALS.c.hashes, APPROVALS.c.expires_at).where(
                    APPROVALS.c.id == approval_id
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            return None
        hashes = parse_json_strict(row["hashes"])
        assert isinstance(hashes, list)
        return ApprovalFacts(row["status"], tuple(str(h) for h in hashes), row["expires_at"])

    def facts(
        self,
        conn: Connection | Any,
        row: Mapping[Any, Any],
        now: datetime,
        approval: ApprovalFacts | None,
        *,
        lock: bool = False,
    ) -> GateFacts:
        """The facts for ``row``; ``lock`` (the claim) locks an order's trading
        account row first, so its check and reservation are atomic."""
        provider, account = row["provider"], row["account"]
        return GateFacts(
            now=now,
            action=ActionFacts(
                provider=provider,
                action=row["action"],
                account=account,
                category=row["category"],
                payload_hash=row["payload_hash"],
                attempt_count=int(row["attempt_count"]),
                protective=(provider, row["action"]) in PROTECTIVE_ACTIONS,
            ),
            approval=approval,
            credential=self.credential(conn, provider, account),
            halts=self.halts(conn, provider, account),
            policy=self.policy(conn, provider, row["category"], row.get("payload")),
            trading=(
                self.trading.facts(conn, row, now, lock=lock)
                if is_order(provider, row["action"])
                else None
            ),
        )

    # -- decisions ------------------------------------------------------------------

    def decide(
        self,
        conn: Connection | Any,
        row: Mapping[Any, Any],
        now: datetime,
        approval: ApprovalFacts | None,
    ) -> Decision:
        return decide(self.facts(conn, row, now, approval), self.gates)

    def decide_stored(self, conn: Connection, row: Mapping[Any, Any], now: datetime) -> Decision:
        """The decision for a stored action, its approval read in the same transaction."""
        return self.decide(conn, row, now, self.approval(conn, row["approval_id"]))

    def check_claim(
        self, conn: Connection, row: Mapping[Any, Any], now: datetime
    ) -> tuple[Decision, GateFacts]:
        """The claim's decision, with the facts it read (the trading account locked)."""
        facts = self.facts(conn, row, now, self.approval(conn, row["approval_id"]), lock=True)
        return decide(facts, self.gates), facts

    @staticmethod
    def admit(conn: Connection, row: Mapping[Any, Any], facts: GateFacts, now: datetime) -> None:
        """What an allowed claim takes in its transaction: an order's reservation."""
        if facts.trading is not None:
            reserve(conn, row, facts.trading, now)

    # -- the claim query's pre-filter -------------------------------------------------

    def hold_free_clause(
        self,
        provider: ColumnElement[str],
        account: ColumnElement[str],
        *,
        category: ColumnElement[str],
        now: datetime,
        action: ColumnElement[str] | None = None,
    ) -> ColumnElement[bool]:
        """SQL that is true exactly when no gate would hold an action of this
        provider account and category at ``now`` (no covering halt; credentials
        stored, active, not paused; for a publish or list action of a provider
        under the policy monitor: watched pages, each fetched, fresh and acknowledged).
        With ``action``, protective actions pass halts as in the pipeline; without
        it they are treated like any other (held back: the safe side)."""
        halted = exists().where(
            HALTS.c.released_at.is_(None),
            or_(HALTS.c.provider.is_(None), HALTS.c.provider == provider),
            or_(HALTS.c.account.is_(None), HALTS.c.account == account),
        )
        needs_creds = sorted(
            p for p, r in self.requirements.items() if r is not CredentialRequirement.NONE
        )
        usable = exists().where(
            CREDS.c.provider == provider,
            CREDS.c.account == account,
            CREDS.c.state == StoredState.ACTIVE.value,
            CREDS.c.paused.is_(False),
        )
        pages = POLICY_PAGES_TABLE
        watched = and_(pages.c.provider == provider, pages.c.watched.is_(True))
        unclear = exists().where(
            watched,
            or_(
                pages.c.current_hash.is_(None),
                pages.c.verified_at.is_(None),
                # Stale exactly when now - verified_at > freshness (the gate's rule).
                pages.c.verified_at < now - self.freshness,
                pages.c.acknowledged_hash.is_(None),
                pages.c.current_hash != pages.c.acknowledged_hash,
            ),
        )
        policy_clear = or_(
            category.not_in(sorted(GATED_CATEGORIES)),
            provider.not_in(sorted(self.policy_providers)),
            and_(exists().where(watched), ~unclear),
        )
        protective = (
            tuple_(provider, action).in_(sorted(PROTECTIVE_ACTIONS))
            if action is not None and PROTECTIVE_ACTIONS
            else false()
        )
        return and_(
            or_(~halted, protective), or_(provider.not_in(needs_creds), usable), policy_clear
        )


def packet_policy_refs(payload: str | None) -> tuple[tuple[str, str], ...] | None:
    """The (url, hash) policy refs of a stored payload that is a publish packet."""
    if payload is None:
        return None
    document = parse_json_strict(payload)
    if not isinstance(document, dict) or not is_packet(document):
        return None
    refs = document.get("policy_refs")
    if not isinstance(refs, list):
        return ()
    return tuple(
        (str(ref["url"]), str(ref["sha256"]))
        for ref in refs
        if isinstance(ref, dict) and "url" in ref and "sha256" in ref
    )
