"""The claim query's SQL pre-filter and the gate pipeline agree on random states.

The claim query skips, in SQL, actions a gate would hold (so the worker does not
read them over and over). That filter is a second statement of the hold gates;
this property test is what keeps it honest: for random credentials (missing,
active, paused, needing re-auth, invalid), random halts (every scope kind,
engaged or released) and random policy pages (watched or not; snapshot missing,
fresh, exactly at the freshness edge, stale; acknowledged or not), an action of
each category passes the filter exactly when the pipeline does not hold it. A
protective action (the kill switch's cancel-all) passes halts in both.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Table, delete, insert, select, update

from autopack.db.models import (
    CredentialKeyRow,
    CredentialRow,
    ExternalActionRow,
    HaltRow,
    PolicyPageRow,
)
from autopack.domain.gates import ApprovalFacts, Verdict
from autopack.domain.halts import parse_scope
from autopack.services.context import Runtime
from autopack.services.gates import GateService
from autopack.services.ledger import make_store
from autopack.services.runtime import build_runtime
from conftest import make_settings

ACTIONS = cast(Table, ExternalActionRow.__table__)
CREDS = cast(Table, CredentialRow.__table__)
KEYS = cast(Table, CredentialKeyRow.__table__)
HALTS = cast(Table, HaltRow.__table__)
PAGES = cast(Table, PolicyPageRow.__table__)
NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)
# API key; OAuth and policy-watched; no credentials and no policy monitor.
PROVIDERS = ("alpaca", "youtube", "sandbox")
ACCOUNTS = ("a", "b")
CATEGORIES = ("other", "publish", "list")
HASH = "c" * 64
PROTECTIVE = "orders.cancel_all"  # passes halts (ActionWire.protective)
SNAPSHOTS = (None, "1" * 64, "2" * 64)
WINDOW = timedelta(days=7)
VERIFIED = (
    None,
    NOW,
    NOW - timedelta(hours=1),
    NOW - WINDOW,  # exactly at the edge: still fresh
    NOW - WINDOW - timedelta(microseconds=1),  # just past it: stale
    NOW - timedelta(days=30),
)

credential_states = st.sampled_from(
    [None, ("active", False), ("active", True), ("needs_reauth", False), ("invalid", True)]
)
scopes = st.one_of(
    st.just("all"),
    st.sampled_from(PROVIDERS).map(lambda p: f"provider:{p}"),
    st.tuples(st.sampled_from(PROVIDERS), st.sampled_from(ACCOUNTS)).map(
        lambda pa: f"account:{pa[0]}/{pa[1]}"
    ),
)
pages = st.lists(
    st.tuples(
        st.sampled_from(("youtube", "sandbox")),
        st.booleans(),  # watched
        st.sampled_from(SNAPSHOTS),  # current
        st.sampled_from(SNAPSHOTS),  # acknowledged
        st.sampled_from(VERIFIED),
    ),
    max_size=3,
)
states = st.fixed_dictionaries(
    {
        "credentials": st.fixed_dictionaries(
            {(p, a): credential_states for p in PROVIDERS for a in ACCOUNTS}
        ),
        "halts": st.lists(st.tuples(scopes, st.booleans()), max_size=4),
        "pages": pages,
    }
)


@pytest.fixture
def rt(workspace: Path, database_url: str) -> Iterator[Runtime]:
    runtime = build_runtime(make_settings(workspace, database_url))
    with runtime.engine.begin() as conn:
        conn.execute(insert(KEYS).values(key_id="k1", salt="00", active_slot=1, created_at=NOW))
        for provider in PROVIDERS:
            for account in ACCOUNTS:
                for category in CATEGORIES:
                    conn.execute(insert(ACTIONS).values(**_action(provider, account, category)))
        for account in ACCOUNTS:
            conn.execute(
                insert(ACTIONS).values(**_action("alpaca", account, "trade", action=PROTECTIVE))
            )
    yield runtime
    runtime.close()


def _action(
    provider: str, account: str, category: str, *, action: str = "thing.update"
) -> dict[str, Any]:
    return {
        "idempotency_key": f"{provider}-{account}-{category}-{action}",
        "provider": provider,
        "action": action,
        "account": account,
        "category": category,
        "payload": "{}",
        "payload_hash": HASH,
        "request_hash": HASH,
        "requested_by": "agent",
        "status": "approved",
        "created_at": NOW,
        "updated_at": NOW,
        "attempt_count": 0,
        "retry_count": 0,
        "redispatch_count": 0,
        "fencing": 0,
        "event_count": 1,
        "last_event_hash": HASH,
    }


def _credential(provider: str, account: str, state: str, paused: bool) -> dict[str, Any]:
    return {
        "provider": provider,
        "account": account,
        "kind": "api_key" if provider == "alpaca" else "oauth",
        "environment": "paper" if provider == "alpaca" else "production",
        "scopes": "[]",
        "state": state,
        "paused": paused,
        "has_refresh_token": False,
        "key_id": "k1",
        "secret_ciphertext": "not-read-by-the-gates",
        "version": 1,
        "refresh_count": 0,
        "failure_count": 0,
        "total_failures": 0,
        "created_at": NOW,
        "updated_at": NOW,
    }


_page_urls: list[int] = []  # makes each example's page URLs new (rows are never deleted)


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(state=states)
def test_sql_prefilter_and_pipeline_agree(rt: Runtime, state: dict[str, Any]) -> None:
    gates = GateService(make_store(rt))
    with rt.engine.begin() as conn:
        conn.execute(delete(CREDS))
        conn.execute(delete(HALTS))
        # Policy pages are never deleted (a trigger refuses it): unwatch the old ones.
        conn.execute(update(PAGES).values(watched=False))
        for n, (provider, watched, current, acked, verified) in enumerate(state["pages"]):
            conn.execute(
                insert(PAGES).values(
                    provider=provider,
                    url=f"https://policy.example/{len(_page_urls)}/{n}",
                    watched=watched,
                    added_by="t",
                    added_at=NOW,
                    current_hash=current,
                    acknowledged_hash=acked,
                    verified_at=verified,
                )
            )
        _page_urls.append(len(state["pages"]))
        for (provider, account), stored in state["credentials"].items():
            if stored is not None:
                conn.execute(insert(CREDS).values(**_credential(provider, account, *stored)))
        for scope_text, released in state["halts"]:
            scope = parse_scope(scope_text)
            conn.execute(
                insert(HALTS).values(
                    scope=scope.text,
                    provider=scope.provider,
                    account=scope.account,
                    reason="r",
                    engaged_by="ops",
                    engaged_at=NOW,
                    released_at=NOW if released else None,
                )
            )
    approval = ApprovalFacts("approved", (HASH,), NOW + timedelta(hours=1))
    with rt.engine.begin() as conn:
        passed = set(
            conn.execute(
                select(ACTIONS.c.idempotency_key).where(
                    gates.hold_free_clause(
                        ACTIONS.c.provider,
                        ACTIONS.c.account,
                        category=ACTIONS.c.category,
                        now=NOW,
                        action=ACTIONS.c.action,
                    )
                )
            ).scalars()
        )
        rows = conn.execute(select(ACTIONS)).mappings().all()
        not_held = {
            row["idempotency_key"]
            for row in rows
            if gates.decide(conn, row, NOW, approval).verdict is not Verdict.HOLD
        }
    assert len(rows) == len(PROVIDERS) * len(ACCOUNTS) * len(CATEGORIES) + len(ACCOUNTS)
    assert passed == not_held
