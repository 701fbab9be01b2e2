"""The executor: claim -> re-check -> dispatch -> confirm | unknown, and the reconciler.

Order of durable steps for one attempt:

1. claim (commit): status dispatching, a fresh lease owner token, fencing + 1,
   lease expiry. The intent is durable BEFORE any network call.
2. re-render the request from the stored payload, recompute the payload hash and
   the request hash; refuse (needs_attention, nothing sent) on any mismatch.
3. dispatch through the adapter (the only network call).
4. confirm (commit, compare-and-set on status + fencing + owner): succeeded with
   the provider object id, retry_wait (NO_EFFECT only, bounded, backoff), failed
   (PERMANENT), or unknown (MAYBE_EFFECT, any exception from the adapter).

A worker that dies anywhere leaves at worst a ``dispatching`` row whose lease
expires; the reconciler turns it into ``unknown`` and resolves it through the
provider's lookup, never by a blind retry.

Settle window: an ``unknown`` action's request may still be in the provider
(a read timeout or 5xx does not stop the server from finishing it). The
reconciler trusts a "not found" lookup only after the action has been
``unknown`` for ``settle_seconds``; before that the action stays ``unknown``
(reported in ``still_unknown`` and ``settling``). The default window is the
adapter's ``request_timeout_seconds`` (``DEFAULT_REQUEST_TIMEOUT_SECONDS`` when
the adapter does not say) plus ``SETTLE_MARGIN_SECONDS``; pass
``settle_seconds`` to the executor to set one window for every provider.

Test seam: ``AUTOPACK_CRASHPOINT=<point>`` makes the process SIGKILL itself at
that point (see ``CRASHPOINTS``), so the crash tests hit exact places. When the
variable is unset (always, outside tests) the hook does nothing.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import Connection, select

from autopack.domain.error_codes import ErrorCode
from autopack.domain.gates import Decision, Verdict
from autopack.domain.ledger import (
    CLAIMABLE,
    DEFAULT_RETRY_POLICY,
    TERMINAL,
    ActionStatus,
    RetryPolicy,
    intent_hash,
    outcome_status,
    reconcile_decision,
)
from autopack.domain.providers import DispatchResult, Intent, LookupStatus, Outcome
from autopack.domain.redaction import Redactor
from autopack.services.approvals import ApprovalService
from autopack.services.context import Runtime
from autopack.services.gates import GateService
from autopack.services.ledger import (
    ACTIONS,
    ActionRecord,
    IntentRequest,
    LeaseLostError,
    LedgerStore,
    PreparedIntent,
    Proposal,
    make_store,
)
from autopack.services.ledger.intake import Intake
from autopack.services.ledger.progress import LedgerProgress, stored_progress
from autopack.services.providers import ProviderRegistry

CRASHPOINT_ENV: Final = "AUTOPACK_CRASHPOINT"
CRASHPOINT_DELAY_ENV: Final = "AUTOPACK_CRASHPOINT_DELAY_MS"
CRASHPOINTS: Final = frozenset(
    {
        "before_claim",  # about to claim: nothing written yet
        "after_claim_commit",  # claim committed, nothing sent
        "during_dispatch",  # request in flight (killed from a timer thread)
        "after_response",  # adapter returned, outcome not yet recorded
        "after_confirm",  # outcome committed
    }
)
DEFAULT_LEASE_SECONDS: Final = 60.0
# The settle window (see the module docstring): how long a request may still be
# processed by the provider after the client stopped waiting for it.
DEFAULT_REQUEST_TIMEOUT_SECONDS: Final = 30.0  # adapters without request_timeout_seconds
SETTLE_MARGIN_SECONDS: Final = 30.0  # provider work past the client's timeout, clock skew


def crashpoint(name: str) -> None:
    """Test seam: SIGKILL this process when AUTOPACK_CRASHPOINT names this point."""
    wanted = os.environ.get(CRASHPOINT_ENV)
    if not wanted or wanted != name:
        return
    if name == "during_dispatch":
        delay = int(os.environ.get(CRASHPOINT_DELAY_ENV, "300")) / 1000

        def _kill() -> None:
            os.kill(os.getpid(), signal.SIGKILL)

        timer = threading.Timer(delay, _kill)
        timer.daemon = True
        timer.start()
        return
    os.kill(os.getpid(), signal.SIGKILL)


@dataclass(frozen=True, slots=True)
class Claim:
    """A held lease: the owner token and fencing value every later write must match."""

    row: dict[str, Any]
    owner: str

    @property
    def fencing(self) -> int:
        return int(self.row["fencing"])


class Executor:
    """Claims, dispatches and confirms actions; reconciles unknown ones."""

    def __init__(
        self,
        runtime: Runtime,
        registry: ProviderRegistry | None = None,
        redactor: Redactor | None = None,
        *,
        store: LedgerStore | None = None,
        worker: str = "worker",
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        retry_policy: RetryPolicy = DEFAULT_RETRY_POLICY,
        settle_seconds: float | None = None,
    ) -> None:
        self.rt = runtime
        # Adapters that authenticate read the runtime's credential store.
        self.registry = registry if registry is not None else ProviderRegistry.for_runtime(runtime)
        self.store = store if store is not None else make_store(runtime, redactor)
        self.gates = GateService(self.store)
        self.intake = Intake(self.store, self.registry, self.gates)
        self.approvals = ApprovalService(runtime, self.registry, store=self.store)
        self.worker = worker
        self.lease_seconds = lease_seconds
        self.retry_policy = retry_policy
        if settle_seconds is not None and settle_seconds < 0:
            raise ValueError("settle_seconds must be >= 0")
        self.settle_seconds = settle_seconds

    def settle_seconds_for(self, provider: str) -> float:
        """How long an ``unknown`` action of ``provider`` waits before a "not found"
        lookup counts as proof that its request had no effect."""
        if self.settle_seconds is not None:
            return self.settle_seconds
        return self.request_timeout_seconds(provider) + SETTLE_MARGIN_SECONDS

    def request_timeout_seconds(self, provider: str) -> float:
        """How long ``provider``'s adapter waits for an answer to one request."""
        timeout = getattr(self.registry.get(provider), "request_timeout_seconds", None)
        if not isinstance(timeout, int | float) or timeout <= 0:
            timeout = DEFAULT_REQUEST_TIMEOUT_SECONDS
        return float(timeout)

    def longest_request_seconds(self) -> float:
        """The longest time any dispatchable provider's request may wait for its answer."""
        return max(
            (self.request_timeout_seconds(name) for name in self.registry.dispatchable),
            default=DEFAULT_REQUEST_TIMEOUT_SECONDS,
        )

    def _owner(self) -> str:
        return f"{self.worker[:40]}:{self.rt.entropy(8).hex()}"

    # -- claim --------------------------------------------------------------------

    def _claimable_query(self, now: datetime, key: str | None, passed: set[str]) -> Any:
        query = select(ACTIONS).where(ACTIONS.c.status.in_([s.value for s in CLAIMABLE]))
        query = query.where(
            (ACTIONS.c.next_attempt_at.is_(None)) | (ACTIONS.c.next_attempt_at <= now)
        )
        if key is not None:
            query = query.where(ACTIONS.c.idempotency_key == key)
        if passed:
            query = query.where(ACTIONS.c.idempotency_key.not_in(sorted(passed)))
        # Pre-filter: actions a gate would hold (halt, paused or unconnected
        # account, policy not fresh or not acknowledged) are not even read; they
        # stay approved and are claimed once the hold lifts. The pipeline below
        # still decides every candidate.
        query = query.where(
            self.gates.hold_free_clause(
                ACTIONS.c.provider,
                ACTIONS.c.account,
                category=ACTIONS.c.category,
                now=now,
                action=ACTIONS.c.action,
            )
        )
        query = query.order_by(ACTIONS.c.created_at, ACTIONS.c.idempotency_key).limit(1)
        return self.store.for_update(query, skip_locked=True)

    def claim(self, key: str | None = None) -> Claim | None:
        """Lease the oldest claimable action (or ``key``) that the gate pipeline
        allows; None when there is none. Held actions are passed over untouched;
        refused ones leave the queue (expired or needs_attention), nothing sent."""
        crashpoint("before_claim")
        passed: set[str] = set()
        while True:
            now = self.rt.clock()
            with self.store.tx() as conn:
                found = conn.execute(self._claimable_query(now, key, passed)).mappings().first()
                if found is None:
                    return None
                row = dict(found)
                decision, facts = self.gates.check_claim(conn, row, now)
                if decision.verdict is Verdict.HOLD:
                    passed.add(row["idempotency_key"])
                    if self.store.outbox is not None:
                        # Once per (action, reason): a repeat is a no-op insert.
                        self.store.outbox.action_held(conn, row, decision, now, self.store.redactor)
                    continue
                if decision.verdict is Verdict.REFUSE:
                    self._refuse_claim(conn, row, decision, now)
                    continue
                owner = self._owner()
                self.gates.admit(conn, row, facts, now)
                new = self.store.move(
                    conn,
                    row,
                    ActionStatus.DISPATCHING,
                    event="claimed",
                    actor=owner,
                    now=now,
                    data={"attempt": row["attempt_count"] + 1},
                    trusted=True,
                    values={
                        "fencing": row["fencing"] + 1,
                        "lease_owner": owner,
                        "lease_expires_at": now + timedelta(seconds=self.lease_seconds),
                        "attempt_count": row["attempt_count"] + 1,
                        "started_at": row["started_at"] or now,
                        "next_attempt_at": None,
                    },
                )
            crashpoint("after_claim_commit")
            return Claim(new, owner)

    def _refuse_claim(
        self, conn: Connection, row: dict[str, Any], decision: Decision, now: datetime
    ) -> None:
        """A refused action leaves the queue, nothing sent: an approval that expired
        before first use -> expired; any other refusal -> needs_attention."""
        data = {"code": decision.code, "error": decision.reason}
        if decision.code is ErrorCode.APPROVAL_EXPIRED and row["status"] == ActionStatus.APPROVED:
            self.store.move(
                conn,
                row,
                ActionStatus.EXPIRED,
                event="approval_expired",
                actor=self.worker,
                now=now,
                data=data,
                values={"completed_at": now},
            )
            return
        held = self.store.move(
            conn,
            row,
            ActionStatus.DISPATCHING,
            event="claimed",
            actor=self.worker,
            now=now,
            data={"attempt": row["attempt_count"] + 1},
            values={"fencing": row["fencing"] + 1},
        )
        self.store.move(
            conn,
            held,
            ActionStatus.NEEDS_ATTENTION,
            event="refused",
            actor=self.worker,
            now=now,
            data=data,
            values={"completed_at": now, "last_error": decision.reason},
        )

    # -- execute ------------------------------------------------------------------

    def execute(self, claim: Claim, db: Any = None) -> ActionRecord:
        """Re-check, dispatch and record the outcome of a claimed action (on the
        driver connection ``db`` when given, no transaction open)."""
        row = claim.row
        try:
            # Rebuilt from the stored payload text, not from anything held in memory.
            intent = Intent(
                row["provider"],
                row["action"],
                row["account"],
                row["idempotency_key"],
                json.loads(row["payload"]),
            )
            adapter = self.registry.get(row["provider"])
            rendered = adapter.render(intent)
            mismatch = None
            # Hashed from the stored text itself: any edit to it changes the hash.
            recomputed = intent_hash(
                row["provider"],
                row["action"],
                row["account"],
                row["idempotency_key"],
                row["payload"],
            )
            if recomputed != row["payload_hash"]:
                mismatch = "payload hash"
            elif rendered.request_hash != row["request_hash"]:
                mismatch = "request hash"
        except Exception as exc:  # noqa: BLE001 - a request we cannot rebuild is never sent
            rendered = None
            mismatch = f"request rebuild ({type(exc).__name__})"
        if mismatch is not None or rendered is None:
            return self._finish(
                claim,
                ActionStatus.NEEDS_ATTENTION,
                event="refused",
                data={
                    "code": "hash_mismatch",
                    "error": f"{mismatch} differs from the approved one",
                },
                values={
                    "last_error": f"refused before dispatch: {mismatch} mismatch; nothing sent"
                },
                db=db,
            )
        progress = LedgerProgress(
            self.store,
            row,
            owner=claim.owner,
            lease_seconds=self.lease_seconds,
            clock=self.rt.clock,
            db=db,
        )
        crashpoint("during_dispatch")
        try:
            result = adapter.dispatch(intent, rendered, progress)
        except Exception as exc:  # noqa: BLE001 - after sending, any failure may have had effect
            result = DispatchResult(
                outcome=Outcome.MAYBE_EFFECT, error=f"{type(exc).__name__}: {exc}"
            )
        crashpoint("after_response")
        # Checkpoints moved the row's event chain head: confirm from where they left it.
        return self.confirm(Claim(progress.row, claim.owner), result, db)

    def confirm(self, claim: Claim, result: DispatchResult, db: Any = None) -> ActionRecord:
        row = claim.row
        target = outcome_status(result.outcome, int(row["retry_count"]), self.retry_policy)
        now = self.rt.clock()
        values: dict[str, Any] = {"lease_expires_at": None}
        data: dict[str, Any] = {
            "outcome": result.outcome.value,
            "status_code": result.status_code,
        }
        # The event data is built here, so it skips the generic redaction pass; the
        # values the provider sent (object id, summary, error text) are redacted first,
        # with one redactor whose freshness (secrets stored by other processes) is
        # checked once, on the connection this outcome is written on.
        redactor = self.store.redactor_on(db)
        if result.provider_object_id is not None:
            values["provider_object_id"] = result.provider_object_id
            data["provider_object_id"] = self.store.redacted_text(
                result.provider_object_id, redactor
            )
        if result.summary:
            values["response_summary"] = self.store.redacted_json(result.summary, redactor)
        if result.error is not None:
            values["last_error"] = self.store.redacted_text(result.error, redactor)
            data["error"] = values["last_error"]
        if target is ActionStatus.RETRY_WAIT:
            delay = self.retry_policy.delay(int(row["retry_count"]), result.retry_after_seconds)
            values["retry_count"] = int(row["retry_count"]) + 1
            values["next_attempt_at"] = now + timedelta(seconds=delay)
            data["retry_in_seconds"] = str(delay)
        if target in TERMINAL:
            values["completed_at"] = now
        record = self._finish(
            claim,
            target,
            event=f"dispatch_{target.value}",
            data=data,
            values=values,
            now=now,
            db=db,
            trusted=True,
        )
        crashpoint("after_confirm")
        return record

    def _finish(
        self,
        claim: Claim,
        target: ActionStatus,
        *,
        event: str,
        data: dict[str, Any],
        values: dict[str, Any],
        now: datetime | None = None,
        db: Any = None,
        trusted: bool = False,
    ) -> ActionRecord:
        now = now if now is not None else self.rt.clock()
        if target in TERMINAL and "completed_at" not in values:
            values["completed_at"] = now
        if db is None:
            with self.store.driver() as own:
                return self._finish(
                    claim,
                    target,
                    event=event,
                    data=data,
                    values=values,
                    now=now,
                    db=own,
                    trusted=trusted,
                )
        with self.store.write(db):
            new = self.store.move(
                db,
                claim.row,
                target,
                event=event,
                actor=claim.owner,
                now=now,
                data=data,
                values=values,
                owner=claim.owner,
                trusted=trusted,
            )
        return ActionRecord.from_row(new)

    def run_once(self, limit: int | None = None) -> list[ActionRecord]:
        """Claim and execute until nothing is claimable (or ``limit`` actions)."""
        done: list[ActionRecord] = []
        while limit is None or len(done) < limit:
            claim = self.claim()
            if claim is None:
                break
            try:
                done.append(self.execute(claim))
            except LeaseLostError:
                continue
        return done

    # -- the guarded call: propose + execute in one go ---------------------------

    def guarded_call(self, request: IntentRequest) -> ActionRecord:
        """Propose and, when the project policy auto-approves it and the gate
        pipeline allows it, execute at once.

        Two commits when new and claimed: (1) intent + approval + claim + events,
        before any network call; (2) the outcome. A key already recorded with the
        same hash returns its record (replay: nothing is sent again); a different
        hash is ``idempotency_conflict``. Actions that need a human are recorded
        and returned in ``awaiting_approval``; auto-approved ones a gate holds (a
        halt, a paused account) are returned ``approved`` and wait for the worker.
        """
        prepared = self.intake.prepare(request)
        # One pooled driver connection for both commits (intent, outcome).
        with self.store.driver() as db:
            proposal, claim = self.propose_and_claim(prepared, db)
            if claim is None:
                return proposal.record
            return self.execute(claim, db)

    def propose_and_claim(
        self, prepared: PreparedIntent, db: Any = None
    ) -> tuple[Proposal, Claim | None]:
        if db is None:
            with self.store.driver() as own:
                return self.propose_and_claim(prepared, own)
        owner = self._owner()
        row, found = self.intake.record_intent(
            db, prepared, claim_if_auto=owner, lease_seconds=self.lease_seconds
        )
        if found is not None:
            return Proposal(False, prepared, found), None
        assert row is not None
        proposal = Proposal.lazy(row, prepared)
        if row["status"] != ActionStatus.DISPATCHING:
            return proposal, None
        return proposal, Claim(row, owner)

    # -- leases and reconciliation ------------------------------------------------

    def expire_leases(self) -> int:
        """Dispatching rows whose lease ran out become unknown (they may have been sent)."""
        now = self.rt.clock()
        count = 0
        with self.store.tx() as conn:
            query = (
                select(ACTIONS)
                .where(ACTIONS.c.status == ActionStatus.DISPATCHING.value)
                .where(ACTIONS.c.lease_expires_at <= now)
                .order_by(ACTIONS.c.idempotency_key)
            )
            query = self.store.for_update(query, skip_locked=True)
            for found in conn.execute(query).mappings().all():
                row = dict(found)
                self.store.move(
                    conn,
                    row,
                    ActionStatus.UNKNOWN,
                    event="lease_expired",
                    actor="reconciler",
                    now=now,
                    data={"lease_owner": row["lease_owner"]},
                    values={
                        "fencing": row["fencing"] + 1,
                        "lease_owner": None,
                        "lease_expires_at": None,
                    },
                )
                count += 1
        return count

    def reconcile(self, limit: int = 1000) -> dict[str, Any]:
        """Expire leases, then ask the provider about every unknown action.

        ``settling`` lists the unknown actions whose lookup said "not found" before
        their settle window passed: they stay ``unknown`` (also in ``still_unknown``)
        and are asked again by a later reconcile."""
        expired_approvals = self.approvals.expire_due()
        expired = self.expire_leases()
        with self.store.read() as conn:
            keys = (
                conn.execute(
                    select(ACTIONS.c.idempotency_key)
                    .where(ACTIONS.c.status == ActionStatus.UNKNOWN.value)
                    .order_by(ACTIONS.c.updated_at, ACTIONS.c.idempotency_key)
                    .limit(limit)
                )
                .scalars()
                .all()
            )
        outcome: dict[str, list[str]] = {
            "succeeded": [],
            "retry_wait": [],
            "needs_attention": [],
            "still_unknown": [],
            "settling": [],
        }
        for key in keys:
            with self.store.read() as conn:
                found = self.store.row(conn, key)
            if found is None or found["status"] != ActionStatus.UNKNOWN:
                continue
            row = dict(found)
            record = ActionRecord.from_row(row)
            try:
                result = self.registry.get(record.provider).lookup(
                    record.intent(), stored_progress(row)
                )
                status, object_id, error = result.status, result.provider_object_id, result.error
                summary = dict(result.summary)
            except Exception as exc:  # noqa: BLE001 - a failed lookup leaves it unknown
                status, object_id, error = LookupStatus.UNAVAILABLE, None, type(exc).__name__
                summary = {}
            now = self.rt.clock()
            # updated_at of an unknown row is the moment it became unknown (nothing
            # else writes it while it stays unknown): after the last dispatch began.
            settled = now >= row["updated_at"] + timedelta(
                seconds=self.settle_seconds_for(record.provider)
            )
            target = reconcile_decision(status, int(row["redispatch_count"]), settled=settled)
            if target is None:
                outcome["still_unknown"].append(key)
                if status is LookupStatus.NOT_FOUND:
                    outcome["settling"].append(key)
                continue
            values: dict[str, Any] = {}
            data: dict[str, Any] = {"lookup": status.value}
            if target is ActionStatus.SUCCEEDED:
                values.update(provider_object_id=object_id, completed_at=now)
                data["provider_object_id"] = object_id
                if summary:
                    values["response_summary"] = self.store.redacted_json(summary)
            elif target is ActionStatus.RETRY_WAIT:
                values.update(
                    redispatch_count=int(row["redispatch_count"]) + 1, next_attempt_at=now
                )
            else:
                values["last_error"] = self.store.redacted_text(
                    error or f"lookup {status.value}: a person must decide"
                )
            try:
                with self.store.tx() as conn:
                    self.store.move(
                        conn,
                        row,
                        target,
                        event=f"reconciled_{status.value}",
                        actor="reconciler",
                        now=now,
                        data=data,
                        values=values,
                    )
            except LeaseLostError:
                continue
            outcome["succeeded" if target is ActionStatus.SUCCEEDED else target.value].append(key)
        return {
            "expired_leases": expired,
            "expired_approvals": expired_approvals,
            **{name: sorted(v) for name, v in outcome.items()},
        }


def worker_loop(
    executor: Executor,
    *,
    once: bool,
    poll_seconds: float,
    stop: threading.Event | None = None,
    on_batch: Callable[[list[ActionRecord]], None] | None = None,
    reconcile: bool = False,
    duties: Sequence[Callable[[threading.Event], object]] = (),
) -> int:
    """Expire lapsed leases (or fully reconcile), execute what is claimable, run the
    other duties (notifications), repeat.

    Returns how many actions ran."""
    stop = stop or threading.Event()
    total = 0
    while not stop.is_set():
        if reconcile:
            executor.reconcile()
        else:
            executor.expire_leases()
        # One action at a time, so a stop takes effect after the action in flight
        # instead of after the whole backlog.
        done: list[ActionRecord] = []
        while not stop.is_set():
            one = executor.run_once(limit=1)
            if not one:
                break
            done += one
        total += len(done)
        if on_batch is not None and done:
            on_batch(done)
        for duty in duties:
            if not stop.is_set():
                duty(stop)
        if once or stop.wait(poll_seconds):
            return total
    return total
