"""The claim query's SQL pre-filter and the gate pipeline agree on random states.

The claim query skips, in SQL, actions a gate would hold (so the worker does not
read them over and over). That filter is a second statement of the hold gates;
this property test is what keeps it honest: for random credentials (missing,
active, paused, needing re-auth, invalid) and random halts (every scope kind,
engaged or released), an action passes the filter exactly when the pipeline
does not hold it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Table, delete, insert, select

from autopack.db.models import CredentialKeyRow, CredentialRow, ExternalActionRow, HaltRow
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
NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)
PROVIDERS = ("alpaca", "youtube", "sandbox")  # API key, OAuth, no credentials
ACCOUNTS = ("a", "b")
HASH = "c" * 64

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
states = st.fixed_dictionaries(
    {
        "credentials": st.fixed_dictionaries(
            {(p, a): credential_states for p in PROVIDERS for a in ACCOUNTS}
        ),
        "halts": st.lists(st.tuples(scopes, st.booleans()), max_size=4),
    }
)


@pytest.fixture
def rt(workspace: Path, database_url: str) -> Iterator[Runtime]:
    runtime = build_runtime(make_settings(workspace, database_url))
    with runtime.engine.begin() as conn:
        conn.execute(insert(KEYS).values(key_id="k1", salt="00", active_slot=1, created_at=NOW))
        for provider in PROVIDERS:
            for account in ACCOUNTS:
                conn.execute(insert(ACTIONS).values(**_action(provider, account)))
    yield runtime
    runtime.close()


def _action(provider: str, account: str) -> dict[str, Any]:
    return {
        "idempotency_key": f"{provider}-{account}",
        "provider": provider,
        "action": "thing.update",
        "account": account,
        "category": "other",
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


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(state=states)
def test_sql_prefilter_and_pipeline_agree(rt: Runtime, state: dict[str, Any]) -> None:
    gates = GateService(make_store(rt))
    with rt.engine.begin() as conn:
        conn.execute(delete(CREDS))
        conn.execute(delete(HALTS))
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
                    gates.hold_free_clause(ACTIONS.c.provider, ACTIONS.c.account)
                )
            ).scalars()
        )
        rows = conn.execute(select(ACTIONS)).mappings().all()
        not_held = {
            row["idempotency_key"]
            for row in rows
            if gates.decide(conn, row, NOW, approval).verdict is not Verdict.HOLD
        }
    assert len(rows) == len(PROVIDERS) * len(ACCOUNTS)
    assert passed == not_held
