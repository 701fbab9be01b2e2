"""Hypothesis drives the real services on the real database: no illegal transition is
ever recorded, the chain always verifies, terminal states never change, and a
succeeded action is never dispatched again."""

from __future__ import annotations

import contextlib
import itertools
import shutil
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    rule,
    run_state_machine_as_test,
)
from ledger_support import Kit, make_kit, write_policy
from sqlalchemy import text

from autopack.domain.errors import AutopackError
from autopack.domain.ledger import TERMINAL, TRANSITIONS, ActionStatus
from autopack.domain.providers import DispatchResult, LookupResult, LookupStatus, Outcome
from autopack.services.context import Runtime
from autopack.services.runtime import build_runtime
from conftest import create_pg_database, drop_pg_database, make_settings

OUTCOMES = st.sampled_from(list(Outcome))
LOOKUPS = st.sampled_from(list(LookupStatus))
_ids = itertools.count()


@contextmanager
def fresh_runtime(backend: str, request: pytest.FixtureRequest, tmp: Path) -> Iterator[Runtime]:
    """A new migrated database per example, so every example starts from nothing."""
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp / f"db-{next(_ids)}.db"
        shutil.copyfile(template, target)
        url = f"sqlite:///{target.as_posix()}"
    else:
        url = create_pg_database(request.getfixturevalue("pg_template"))
    workspace = tmp / f"ws-{next(_ids)}"
    workspace.mkdir()
    write_policy(workspace, "demo", {"auto_approve": [{"provider": "*", "action": "ping"}]})
    rt = build_runtime(make_settings(workspace, url))
    try:
        yield rt
    finally:
        rt.close()
        if backend != "sqlite":
            drop_pg_database(url)


def test_state_machine_never_reaches_an_illegal_transition(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:

    class LedgerMachine(RuleBasedStateMachine):
        keys = Bundle("keys")

        def __init__(self) -> None:
            super().__init__()
            self._world = fresh_runtime(backend, request, tmp_path)
            self.kit: Kit = make_kit(self._world.__enter__())
            self.terminal: dict[str, str] = {}

        @rule(target=keys, sensitive=st.booleans())
        def propose(self, sensitive: bool) -> str:
            key = f"k{next(_ids)}"
            self.kit.propose(key, action="post.publish" if sensitive else "ping")
            return key

        @rule(key=keys)
        def approve_again(self, key: str) -> None:
            self.approve(key)

        @rule(key=keys)
        def approve(self, key: str) -> None:
            try:
                self.kit.approve(key, approver="alice")
            except AutopackError as exc:
                self.refused(key, exc.code)

        @rule(key=keys)
        def reject(self, key: str) -> None:
            rec = self.kit.ledger.get(key)
            assert rec.approval_id is not None
            try:
                self.kit.approvals.reject(rec.approval_id, rejecter="bob")
            except AutopackError as exc:
                self.refused(key, exc.code)

        def refused(self, key: str, code: str) -> None:
            """A decision on an action still awaiting approval is refused only when expired
            (the sweep has not run yet)."""
            if self.kit.ledger.get(key).status == ActionStatus.AWAITING_APPROVAL:
                assert code == "approval_expired"

        @rule(key=keys)
        def cancel(self, key: str) -> None:
            with contextlib.suppress(AutopackError):
                self.kit.ledger.cancel(key)

        @rule(outcome=OUTCOMES)
        def execute_next(self, outcome: Outcome) -> None:
            self.kit.adapter.outcomes.append(
                DispatchResult(outcome, retry_after_seconds=1, error="scripted")
            )
            self.kit.executor.run_once(limit=1)
            self.kit.adapter.outcomes.clear()

        @rule()
        def claim_and_crash(self) -> None:
            self.kit.executor.claim()  # the worker dies holding the lease

        @rule(seconds=st.sampled_from([1, 31, 31, 400, 400, 90_000]))
        def time_passes(self, seconds: int) -> None:
            self.kit.clock.advance(seconds=seconds)

        @rule(lookup=LOOKUPS)
        def reconcile(self, lookup: LookupStatus) -> None:
            self.kit.adapter.lookups.extend(
                LookupResult(lookup, provider_object_id="found")
                if lookup is LookupStatus.FOUND
                else LookupResult(lookup)
                for _ in range(50)
            )
            self.kit.executor.reconcile()
            self.kit.adapter.lookups.clear()

        @rule(key=consumes(keys))
        def forget(self, key: str) -> None:
            """Drop a key from the bundle (keeps later steps on fresh keys)."""

        @invariant()
        def only_legal_transitions_recorded(self) -> None:
            with self.kit.rt.engine.connect() as conn:
                events = conn.execute(
                    text(
                        "SELECT idempotency_key, seq, from_status, to_status "
                        "FROM external_action_events ORDER BY idempotency_key, seq"
                    )
                ).all()
                rows: dict[str, str] = dict(
                    conn.execute(text("SELECT idempotency_key, status FROM external_actions")).all()
                )
            last: dict[str, str] = {}
            for key, seq, frm, to in events:
                if seq == 1:
                    assert frm is None
                    assert to == ActionStatus.AWAITING_APPROVAL
                else:
                    assert frm == last[key]
                    assert ActionStatus(to) in TRANSITIONS[ActionStatus(frm)], (frm, to)
                last[key] = to
            assert last == rows
            for key, status in rows.items():
                if key in self.terminal:
                    assert status == self.terminal[key]
                elif ActionStatus(status) in TERMINAL:
                    self.terminal[key] = status

        @invariant()
        def succeeded_never_dispatched_again(self) -> None:
            sent = Counter(k for k, _ in self.kit.adapter.sent)
            for key, status in self.terminal.items():
                if status == ActionStatus.SUCCEEDED:
                    assert sent[key] <= 1 + 3 + 1, key  # bounded: attempts + retries + redispatch

        def teardown(self) -> None:
            try:
                report: dict[str, Any] = self.kit.ledger.verify_chain()
                assert report["ok"]
            finally:
                self._world.__exit__(None, None, None)

    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=15 if backend == "sqlite" else 6,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
