"""The sandbox adapter against a real sandbox server: render, dispatch, lookup, classification."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from autopack.domain.canonical import canonical_hash
from autopack.domain.errors import InvalidInputError
from autopack.domain.providers import (
    InMemoryProgress,
    Intent,
    LookupStatus,
    Outcome,
    ProviderAdapter,
)
from autopack.providers.sandbox.adapter import (
    ACTION_KINDS,
    SandboxAdapter,
    provider_idempotency_key,
)
from sandbox_support import SandboxProcess, running_sandbox

ACTION_PAYLOADS: dict[str, dict[str, Any]] = {
    "video.upload": {"title": "Launch video", "tags": ["a", "b"], "privacy": "private"},
    "listing.create": {"title": "Mug", "price": "12.50", "quantity": 3},
    "product.create": {"title": "Poster", "variants": [{"sku": "P-1", "price": "9.99"}]},
    "order.submit": {"symbol": "AAPL", "qty": "1", "side": "buy", "type": "market"},
}


def intent(
    key: str = "key-1",
    action: str = "video.upload",
    payload: dict[str, Any] | None = None,
    account: str = "acct",
) -> Intent:
    return Intent(
        provider="sandbox",
        action=action,
        account=account,
        idempotency_key=key,
        payload=ACTION_PAYLOADS[action] if payload is None else payload,
    )


@pytest.fixture(params=["idempotent", "lookup_only", "none"])
def mode(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


@pytest.fixture
def sandbox(tmp_path: Path, mode: str) -> Iterator[SandboxProcess]:
    with running_sandbox(tmp_path, mode=mode) as sbx:
        yield sbx


@pytest.fixture
def adapter(sandbox: SandboxProcess) -> Iterator[SandboxAdapter]:
    with sandbox.adapter(timeout=5.0) as a:
        yield a


# --- render ------------------------------------------------------------------------


def test_adapter_implements_the_protocol() -> None:
    with SandboxAdapter("http://127.0.0.1:1") as a:
        assert isinstance(a, ProviderAdapter)
        assert a.name == "sandbox"
        assert a.actions == frozenset(ACTION_KINDS) == frozenset(ACTION_PAYLOADS)


def test_render_is_deterministic_pure_and_secret_free() -> None:
    with (
        SandboxAdapter("http://127.0.0.1:1/", token="s3cret-token-value") as a,
        SandboxAdapter("http://127.0.0.1:1") as b,
    ):
        first, second = a.render(intent()), b.render(intent())
    assert first == second
    assert first.request_hash == second.request_hash
    assert first.method == "POST"
    assert first.url == "http://127.0.0.1:1/v1/videos"
    key = provider_idempotency_key(intent())
    assert first.provider_idempotency_key == key
    assert first.headers["Idempotency-Key"] == key
    assert isinstance(first.body, dict)
    assert first.body == {**ACTION_PAYLOADS["video.upload"], "client_ref": key}
    assert "s3cret-token-value" not in str(first.to_dict())
    assert all(name.lower() != "authorization" for name in first.headers)


def test_provider_key_depends_on_account_and_key_only() -> None:
    base = provider_idempotency_key(intent())
    assert provider_idempotency_key(intent(payload={"title": "other"})) == base
    assert provider_idempotency_key(intent(action="listing.create")) == base
    assert provider_idempotency_key(intent(key="key-2")) != base
    assert provider_idempotency_key(intent(account="other")) != base
    assert base.startswith("ap_")
    assert len(base) == 43


@pytest.mark.parametrize(
    ("bad", "code"),
    [
        (Intent("youtube", "video.upload", "a", "k", {"title": "t"}), "wrong_provider"),
        (Intent("sandbox", "video.delete", "a", "k", {"title": "t"}), "unknown_action"),
        (Intent("sandbox", "video.upload", "a", "k", {"client_ref": "x"}), "reserved_field"),
        (Intent("sandbox", "video.upload", "a", "k", {"ratio": 0.5}), "float_not_allowed"),
    ],
)
def test_render_refuses_bad_intents(bad: Intent, code: str) -> None:
    with SandboxAdapter("http://127.0.0.1:1") as a, pytest.raises(InvalidInputError) as info:
        a.render(bad)
    assert info.value.code == code


def test_bad_base_url_is_refused() -> None:
    with pytest.raises(InvalidInputError):
        SandboxAdapter("ftp://127.0.0.1:1")


# --- dispatch ------------------------------------------------------------------------


@pytest.mark.parametrize("action", sorted(ACTION_PAYLOADS))
def test_dispatch_sends_exactly_the_rendered_body(
    sandbox: SandboxProcess, adapter: SandboxAdapter, action: str
) -> None:
    it = intent(action=action)
    request = adapter.render(it)
    result = adapter.dispatch(it, request, InMemoryProgress())
    assert result.outcome is Outcome.SUCCEEDED, result
    assert result.status_code == 201
    (effect,) = sandbox.effects()
    assert effect["id"] == result.provider_object_id
    assert effect["kind"] == ACTION_KINDS[action]
    assert effect["body"] == request.body
    assert effect["body_hash"] == canonical_hash(request.body)
    assert effect["client_ref"] == request.provider_idempotency_key
    assert result.summary["response"]["id"] == result.provider_object_id
    assert result.summary["replayed"] is False


def test_a_request_rendered_for_another_intent_is_not_sent(
    sandbox: SandboxProcess, adapter: SandboxAdapter
) -> None:
    mine, other = intent("mine"), intent("other")
    result = adapter.dispatch(mine, adapter.render(other), InMemoryProgress())
    assert result.outcome is Outcome.PERMANENT
    assert result.error is not None
    assert "not sent" in result.error
    assert sandbox.requests() == []
    assert sandbox.effects() == []


def test_second_dispatch_replays_only_in_idempotent_mode(
    sandbox: SandboxProcess, adapter: SandboxAdapter, mode: str
) -> None:
    it = intent()
    first = adapter.dispatch(it, adapter.render(it), InMemoryProgress())
    second = adapter.dispatch(it, adapter.render(it), InMemoryProgress())
    assert first.outcome is second.outcome is Outcome.SUCCEEDED
    if mode == "idempotent":
        assert second.provider_object_id == first.provider_object_id
        assert second.status_code == 200
        assert second.summary["replayed"] is True
        assert len(sandbox.effects()) == 1
    else:  # this is why the ledger must never re-send after a maybe-effect
        assert second.provider_object_id != first.provider_object_id
        assert len(sandbox.effects()) == 2


def test_same_key_other_payload_is_permanent_in_idempotent_mode(tmp_path: Path) -> None:
    with running_sandbox(tmp_path, mode="idempotent") as sbx, sbx.adapter() as a:
        first = intent(payload={"title": "one"})
        other = intent(payload={"title": "two"})
        assert a.dispatch(first, a.render(first), InMemoryProgress()).outcome is Outcome.SUCCEEDED
        result = a.dispatch(other, a.render(other), InMemoryProgress())
        assert result.outcome is Outcome.PERMANENT
        assert result.status_code == 422
        assert result.error is not None
        assert "already used" in result.error
        assert len(sbx.effects()) == 1


# (fault, expected outcome, effects recorded afterwards)
FAULT_TABLE: list[tuple[dict[str, Any], Outcome, int]] = [
    ({"kind": "http_5xx"}, Outcome.MAYBE_EFFECT, 0),
    ({"kind": "http_5xx_after_commit"}, Outcome.MAYBE_EFFECT, 1),
    ({"kind": "http_429", "retry_after": "7"}, Outcome.NO_EFFECT, 0),
    ({"kind": "http_4xx"}, Outcome.PERMANENT, 0),
    ({"kind": "lost_response"}, Outcome.MAYBE_EFFECT, 1),
    ({"kind": "lost_response", "reset": True}, Outcome.MAYBE_EFFECT, 1),
    ({"kind": "delay", "seconds": 0.2}, Outcome.SUCCEEDED, 1),
    ({"kind": "delay", "seconds": 0.2, "after_commit": True}, Outcome.SUCCEEDED, 1),
    ({"kind": "leak_secret"}, Outcome.SUCCEEDED, 1),
]


@pytest.mark.parametrize(
    ("fault", "outcome", "effects"),
    FAULT_TABLE,
    ids=[
        f"{f['kind']}{'-reset' if f.get('reset') else ''}"
        f"{'-after' if f.get('after_commit') else ''}"
        for f, _, _ in FAULT_TABLE
    ],
)
def test_faults_are_classified(
    sandbox: SandboxProcess,
    adapter: SandboxAdapter,
    fault: dict[str, Any],
    outcome: Outcome,
    effects: int,
) -> None:
    sandbox.set_faults(fault)
    it = intent()
    result = adapter.dispatch(it, adapter.render(it), InMemoryProgress())
    assert result.outcome is outcome, result
    assert len(sandbox.effects()) == effects
    if outcome is Outcome.SUCCEEDED:
        assert result.provider_object_id == sandbox.effects()[0]["id"]
    else:
        assert result.provider_object_id is None
        assert result.error
    if fault["kind"] == "http_429":
        assert result.retry_after_seconds == 7.0
    if fault["kind"] == "leak_secret":
        # The secret reaches the adapter's summary: the ledger must redact it.
        assert result.summary["response"]["access_token"].startswith("ya29.")


def test_lost_response_reset_and_close_raise_different_transport_errors(
    sandbox: SandboxProcess, adapter: SandboxAdapter
) -> None:
    sandbox.set_faults({"kind": "lost_response"}, {"kind": "lost_response", "reset": True})
    closed = adapter.dispatch(intent("a"), adapter.render(intent("a")), InMemoryProgress())
    reset = adapter.dispatch(intent("b"), adapter.render(intent("b")), InMemoryProgress())
    assert closed.error is not None
    assert closed.error.startswith("RemoteProtocolError (maybe sent)")
    assert reset.error is not None
    assert reset.error.startswith("ReadError (maybe sent)")  # connection reset by peer


def test_read_timeout_is_maybe_effect_and_the_effect_lands_later(tmp_path: Path) -> None:
    with running_sandbox(tmp_path, mode="lookup_only") as sbx, sbx.adapter(timeout=0.5) as a:
        sbx.set_faults({"kind": "delay", "seconds": 2.0})
        it = intent()
        result = a.dispatch(it, a.render(it), InMemoryProgress())
        assert result.outcome is Outcome.MAYBE_EFFECT
        assert result.error is not None
        assert result.error.startswith("ReadTimeout")
        # The request is still in flight at the provider: NOT_FOUND now is not proof.
        assert a.lookup(it, {}).status is LookupStatus.NOT_FOUND
        assert sbx.health()["in_flight"] == 1
        sbx.wait_idle()
        found = a.lookup(it, {})
        assert found.status is LookupStatus.FOUND
        assert found.provider_object_id == sbx.effects()[0]["id"]


def test_connection_refused_is_no_effect_and_lookup_unavailable(tmp_path: Path) -> None:
    with running_sandbox(tmp_path) as sbx:
        sbx.kill()
        with sbx.adapter(timeout=2.0) as a:
            it = intent()
            result = a.dispatch(it, a.render(it), InMemoryProgress())
            assert result.outcome is Outcome.NO_EFFECT
            assert result.error is not None
            assert result.error.startswith("ConnectError (not sent)")
            lookup = a.lookup(it, {})
            assert lookup.status is LookupStatus.UNAVAILABLE
            assert lookup.error is not None


def test_token_is_added_at_dispatch_only(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("adapter-test-token-abcdef0123", encoding="utf-8")
    with running_sandbox(tmp_path, token_file=token_file) as sbx:
        it = intent()
        with sbx.adapter(token="adapter-test-token-abcdef0123") as good:
            request = good.render(it)
            assert "adapter-test-token" not in str(request.to_dict())
            assert good.dispatch(it, request, InMemoryProgress()).outcome is Outcome.SUCCEEDED
            assert good.lookup(it, {}).status is LookupStatus.FOUND
        with sbx.adapter() as anonymous:
            refused = anonymous.dispatch(it, anonymous.render(it), InMemoryProgress())
            assert refused.outcome is Outcome.PERMANENT
            assert refused.status_code == 401
            assert anonymous.lookup(it, {}).status is LookupStatus.UNAVAILABLE


# --- lookup --------------------------------------------------------------------------


def test_lookup_finds_what_a_lost_response_created(
    sandbox: SandboxProcess, adapter: SandboxAdapter, mode: str
) -> None:
    it = intent()
    before = adapter.lookup(it, {})
    sandbox.set_faults({"kind": "lost_response"})
    assert (
        adapter.dispatch(it, adapter.render(it), InMemoryProgress()).outcome is Outcome.MAYBE_EFFECT
    )
    after = adapter.lookup(it, {})
    if mode == "none":
        assert before.status is after.status is LookupStatus.UNSUPPORTED
        assert after.provider_object_id is None
        return
    assert before.status is LookupStatus.NOT_FOUND
    assert after.status is LookupStatus.FOUND
    (effect,) = sandbox.effects()
    assert after.provider_object_id == effect["id"]
    assert after.summary["matches"] == 1
    assert after.summary["body_matches"] is True
    # Another intent (other key) is not confused with it.
    assert adapter.lookup(intent("key-2"), {}).status is LookupStatus.NOT_FOUND


def test_lookup_reports_duplicates_in_lookup_only_mode(tmp_path: Path) -> None:
    with running_sandbox(tmp_path, mode="lookup_only") as sbx, sbx.adapter() as a:
        it = intent()
        ids = [
            a.dispatch(it, a.render(it), InMemoryProgress()).provider_object_id for _ in range(2)
        ]
        found = a.lookup(it, {})
        assert found.status is LookupStatus.FOUND
        assert found.provider_object_id == ids[0]  # the oldest
        assert found.summary["matches"] == 2
        assert found.summary["ids"] == ids


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "http_5xx", "on": "lookup"},
        {"kind": "http_429", "on": "lookup"},
        {"kind": "lost_response", "on": "lookup"},
        {"kind": "http_4xx", "on": "lookup", "status": 403},
    ],
    ids=["5xx", "429", "lost", "403"],
)
def test_lookup_failures_are_unavailable(tmp_path: Path, fault: dict[str, Any]) -> None:
    with running_sandbox(tmp_path) as sbx, sbx.adapter() as a:
        sbx.set_faults(fault)
        result = a.lookup(intent(), {})
        assert result.status is LookupStatus.UNAVAILABLE
        assert result.error


def test_lookup_leak_secret_reaches_the_summary(tmp_path: Path) -> None:
    secret = "ya29.lookup-leak-for-the-redaction-test"
    with running_sandbox(tmp_path) as sbx, sbx.adapter() as a:
        it = intent()
        a.dispatch(it, a.render(it), InMemoryProgress())
        sbx.set_faults({"kind": "leak_secret", "on": "lookup", "secret": secret})
        result = a.lookup(it, {})
        assert result.status is LookupStatus.FOUND
        assert secret not in str(result.summary)  # the adapter keeps only the objects
        sbx.set_faults({"kind": "leak_secret", "secret": secret})
        second = a.dispatch(intent("k2"), a.render(intent("k2")), InMemoryProgress())
        assert second.summary["response"]["access_token"] == secret
