"""Pure ledger and approval rules (no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import hypothesis.strategies as st
import pytest
from hypothesis import given

from autopack.domain.approvals import (
    AUTO_APPROVER,
    ApprovalRefusedError,
    ProjectPolicy,
    batch_hash,
    check_approver,
    check_decidable,
    check_hash,
    check_usable_for_dispatch,
    subject_hash,
)
from autopack.domain.canonical import canonical_hash, canonical_json
from autopack.domain.errors import InvalidInputError
from autopack.domain.ledger import (
    CANCELLABLE,
    CLAIMABLE,
    GENESIS_HASH,
    HUMAN_ONLY,
    MAX_RECONCILE_RESUMES,
    TERMINAL,
    TRANSITIONS,
    ActionCategory,
    ActionStatus,
    IllegalTransitionError,
    RetryPolicy,
    event_hash,
    flat_canonical_json,
    intent_hash,
    outcome_status,
    reconcile_decision,
    transition,
    validate_key,
)
from autopack.domain.ledger import action_category as domain_action_category
from autopack.domain.principals import local_actor
from autopack.domain.providers import Intent, LookupStatus, Outcome
from autopack.providers.registry import ACTION_CATALOGUE, action_category
from autopack.services.executor import CRASHPOINTS, crashpoint

S = ActionStatus
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_transition_table_is_closed_and_terminal_states_have_no_exit() -> None:
    assert set(TRANSITIONS) == set(ActionStatus)
    assert {S.REJECTED, S.EXPIRED, S.SUCCEEDED, S.FAILED, S.CANCELLED} == TERMINAL
    # unknown never goes straight back to dispatching: only through lookup decisions.
    assert S.DISPATCHING not in TRANSITIONS[S.UNKNOWN]
    # needs_attention is never retried automatically.
    assert TRANSITIONS[S.NEEDS_ATTENTION] == {S.SUCCEEDED, S.FAILED}
    assert not (CANCELLABLE & {S.DISPATCHING, S.UNKNOWN})
    assert {S.APPROVED, S.RETRY_WAIT} == CLAIMABLE


@pytest.mark.parametrize("current", list(ActionStatus))
@pytest.mark.parametrize("target", list(ActionStatus))
def test_transition_allows_exactly_the_table(current: S, target: S) -> None:
    if target in TRANSITIONS[current]:
        assert transition(current, target) is target
    else:
        with pytest.raises(IllegalTransitionError):
            transition(current, target)


def test_outcomes_and_bounded_retries() -> None:
    policy = RetryPolicy(max_retries=2, base_seconds=1, cap_seconds=10)
    assert outcome_status(Outcome.SUCCEEDED, 0, policy) is S.SUCCEEDED
    assert outcome_status(Outcome.MAYBE_EFFECT, 0, policy) is S.UNKNOWN
    assert outcome_status(Outcome.PERMANENT, 0, policy) is S.FAILED
    assert outcome_status(Outcome.NO_EFFECT, 1, policy) is S.RETRY_WAIT
    assert outcome_status(Outcome.NO_EFFECT, 2, policy) is S.FAILED
    assert [policy.delay(n) for n in range(5)] == [1, 2, 4, 8, 10]
    assert policy.delay(0, retry_after=7) == 7
    assert policy.delay(0, retry_after=99) == 10


def test_reconcile_decisions() -> None:
    for settled in (False, True):
        assert reconcile_decision(LookupStatus.FOUND, 0, settled=settled) is S.SUCCEEDED
        assert reconcile_decision(LookupStatus.UNSUPPORTED, 0, settled=settled) is (
            S.NEEDS_ATTENTION
        )
        assert reconcile_decision(LookupStatus.UNAVAILABLE, 0, settled=settled) is None
    assert reconcile_decision(LookupStatus.NOT_FOUND, 0, settled=True) is S.RETRY_WAIT
    assert reconcile_decision(LookupStatus.NOT_FOUND, 1, settled=True) is S.NEEDS_ATTENTION
    # Before the settle window the request may still be in the provider: not proof.
    assert reconcile_decision(LookupStatus.NOT_FOUND, 0, settled=False) is None
    assert reconcile_decision(LookupStatus.NOT_FOUND, 1, settled=False) is None
    # An effect in progress resumes at once (no settle window: resuming adds no
    # second effect), a bounded number of times.
    for settled in (False, True):
        for resumes in range(MAX_RECONCILE_RESUMES):
            assert reconcile_decision(LookupStatus.IN_PROGRESS, resumes, settled=settled) is (
                S.RETRY_WAIT
            )
        assert reconcile_decision(
            LookupStatus.IN_PROGRESS, MAX_RECONCILE_RESUMES, settled=settled
        ) is (S.NEEDS_ATTENTION)


@pytest.mark.parametrize(
    ("provider", "action", "category"),
    [
        ("youtube", "videos.insert", ActionCategory.PUBLISH),
        ("etsy", "listings.create", ActionCategory.LIST),
        ("shopify", "products.create", ActionCategory.LIST),
        ("alpaca", "orders.create", ActionCategory.TRADE),
        ("sandbox", "video.upload", ActionCategory.PUBLISH),
        ("sandbox", "order.submit", ActionCategory.TRADE),
        ("stripe", "charge.create", ActionCategory.PAYMENT),
        ("x", "tweet.post", ActionCategory.PUBLISH),
        ("scripted", "ping", ActionCategory.OTHER),
    ],
)
def test_categories(provider: str, action: str, category: ActionCategory) -> None:
    assert action_category(provider, action) is category
    # Declared or not, the registry's answer is the domain rule over its catalogue.
    assert domain_action_category(provider, action, ACTION_CATALOGUE) is category


def test_a_declared_category_wins_over_the_word_rules() -> None:
    catalogue = {("x", "ping"): ActionCategory.TRADE, ("x", "video.note"): ActionCategory.OTHER}
    assert domain_action_category("x", "ping", {}) is ActionCategory.OTHER
    assert domain_action_category("x", "ping", catalogue) is ActionCategory.TRADE
    assert domain_action_category("x", "video.note", catalogue) is ActionCategory.OTHER
    everything = {"auto_approve": [{"provider": "*", "action": "*"}]}
    assert ProjectPolicy.from_json(everything).may_auto_approve("x", "ping")
    assert not ProjectPolicy.from_json(everything, catalogue).may_auto_approve("x", "ping")
    assert ProjectPolicy.from_json(everything, catalogue).may_auto_approve("x", "video.note")


def test_no_policy_can_auto_approve_publish_list_trade_or_payment() -> None:
    everything = ProjectPolicy.from_json(
        {"auto_approve": [{"provider": "*", "action": "*"}]}, ACTION_CATALOGUE
    )
    for provider, action in [
        ("youtube", "videos.insert"),
        ("sandbox", "listing.create"),
        ("alpaca", "orders.create"),
        ("stripe", "payment.send"),
    ]:
        assert action_category(provider, action) in HUMAN_ONLY
        assert not everything.may_auto_approve(provider, action)
    assert everything.may_auto_approve("scripted", "ping")
    assert not ProjectPolicy().may_auto_approve("scripted", "ping")  # default deny


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"auto_approve": "all"},
        {"auto_approve": [{"provider": "x"}]},
        {"allow_self_approval": "yes"},
        {"unknown": 1},
        {"schema": "other/1"},
    ],
)
def test_malformed_policy_is_refused(body: object) -> None:
    with pytest.raises(InvalidInputError):
        ProjectPolicy.from_json(body)


def test_approval_rules() -> None:
    h = "a" * 64
    check_decidable("pending", NOW + timedelta(hours=1), NOW)
    for status, expires, code in [
        ("pending", NOW, "approval_expired"),
        ("expired", NOW + timedelta(hours=1), "approval_expired"),
        ("approved", NOW + timedelta(hours=1), "approval_used"),
        ("rejected", NOW + timedelta(hours=1), "approval_used"),
    ]:
        with pytest.raises(ApprovalRefusedError) as info:
            check_decidable(status, expires, NOW)
        assert info.value.code == code
    check_hash(h.upper(), h)
    with pytest.raises(ApprovalRefusedError):
        check_hash("b" * 64, h)
    with pytest.raises(ApprovalRefusedError):
        check_approver("agent", None, local_actor("agent"), ProjectPolicy())
    check_approver("agent", None, local_actor("agent"), ProjectPolicy(allow_self_approval=True))
    with pytest.raises(ApprovalRefusedError):
        check_approver(
            "agent", None, local_actor(AUTO_APPROVER), ProjectPolicy(allow_self_approval=True)
        )
    assert subject_hash([h]) == h
    assert subject_hash([h, "b" * 64]) == batch_hash(["b" * 64, h])
    with pytest.raises(ApprovalRefusedError):
        check_usable_for_dispatch(
            status="approved",
            hashes=[h],
            payload_hash="c" * 64,
            expires_at=NOW + timedelta(hours=1),
            now=NOW,
            first_attempt=True,
        )
    with pytest.raises(ApprovalRefusedError):
        check_usable_for_dispatch(
            status="approved",
            hashes=[h],
            payload_hash=h,
            expires_at=NOW,
            now=NOW,
            first_attempt=True,
        )
    # A retry after the first attempt is not bound by the approval's expiry.
    check_usable_for_dispatch(
        status="approved",
        hashes=[h],
        payload_hash=h,
        expires_at=NOW,
        now=NOW,
        first_attempt=False,
    )


def test_event_hash_is_deterministic_and_covers_every_field() -> None:
    base = {
        "prev_hash": "0" * 64,
        "key": "k",
        "seq": 1,
        "event": "proposed",
        "from_status": None,
        "to_status": "awaiting_approval",
        "fencing": 0,
        "actor": "agent",
        "at": "2026-01-01T00:00:00Z",
        "data": "{}",
    }
    digest = event_hash(**base)  # type: ignore[arg-type]
    assert digest == event_hash(**base)  # type: ignore[arg-type]
    for field, other in [("actor", "mallory"), ("seq", 2), ("data", '{"x":1}'), ("at", "x")]:
        assert event_hash(**{**base, field: other}) != digest  # type: ignore[arg-type]


def test_key_validation() -> None:
    assert validate_key("order-2026:01@x_y.z") == "order-2026:01@x_y.z"
    for bad in ["", "a b", "-x", "a/b", "k" * 201]:
        with pytest.raises(InvalidInputError):
            validate_key(bad)


def test_crashpoint_hook_does_nothing_when_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUTOPACK_CRASHPOINT", raising=False)
    for point in CRASHPOINTS:
        crashpoint(point)  # still alive
    monkeypatch.setenv("AUTOPACK_CRASHPOINT", "after_confirm")
    crashpoint("before_claim")  # another point: still alive


def test_fast_hashes_equal_the_canonical_ones() -> None:
    """intent_hash and event_hash build their bytes flat; they must equal canonical_hash."""
    payload = {"title": "Cafe\u0301 \u00e9", "n": 5, "nested": {"b": [1, "x"], "a": None}}
    text = canonical_json(payload).decode("utf-8")
    intent = Intent("sandbox", "video.upload", "main", "k-1:2@x", payload)
    assert intent_hash("sandbox", "video.upload", "main", "k-1:2@x", text) == canonical_hash(
        intent.to_hashable()
    )
    # A stored payload edited into other (even equivalent) bytes hashes differently.
    assert intent_hash("sandbox", "video.upload", "main", "k-1:2@x", text + " ") != (
        canonical_hash(intent.to_hashable())
    )
    fields = {
        "prev": GENESIS_HASH,
        "key": "k",
        "seq": 3,
        "event": "claimed",
        "from": None,
        "to": "dispatching",
        "fencing": 2,
        "actor": "Cafe\u0301-worker",
        "at": "2026-01-01T12:00:00Z",
        "data": text,
    }
    assert event_hash(
        prev_hash=GENESIS_HASH,
        key="k",
        seq=3,
        event="claimed",
        from_status=None,
        to_status="dispatching",
        fencing=2,
        actor="Cafe\u0301-worker",
        at="2026-01-01T12:00:00Z",
        data=text,
    ) == canonical_hash(fields)
    assert flat_canonical_json({"b": "Cafe\u0301", "a": 1, "c": None}) == canonical_json(
        {"b": "Cafe\u0301", "a": 1, "c": None}
    )


# Text with decomposed and compatibility forms, which NFC normalisation changes.
_texts = st.text() | st.builds(
    lambda head, odd, tail: head + odd + tail,
    st.text(max_size=4),
    st.sampled_from(["e\u0301", "\u212b", "A\u030a", "\u1e9b\u0323", "\u0041\u0308"]),
    st.text(max_size=4),
)
_flat_values = st.none() | st.booleans() | st.integers() | _texts


@given(st.dictionaries(_texts, _flat_values, max_size=8))
def test_flat_canonical_json_writes_exactly_the_canonical_bytes(
    fields: dict[str, str | int | None],
) -> None:
    """The flat writer (every event's data) never drifts from the one canonical JSON:
    any text (non-ASCII, NFD, escapes, lone surrogates refused alike), ints, bools."""
    try:
        expected = canonical_json(fields)
    except Exception as exc:  # noqa: BLE001 - the flat writer must refuse the same input
        with pytest.raises(type(exc)):
            flat_canonical_json(fields)
        return
    assert flat_canonical_json(fields) == expected


@given(
    _texts, st.integers(), _texts, st.none() | _texts, _texts, st.integers(), _texts, _texts, _texts
)
def test_event_hash_is_the_canonical_hash_of_its_fields(
    key: str,
    seq: int,
    event: str,
    from_status: str | None,
    to_status: str,
    fencing: int,
    actor: str,
    at: str,
    data: str,
) -> None:
    fields = {
        "prev": GENESIS_HASH,
        "key": key,
        "seq": seq,
        "event": event,
        "from": from_status,
        "to": to_status,
        "fencing": fencing,
        "actor": actor,
        "at": at,
        "data": data,
    }
    arguments = {
        "prev_hash": GENESIS_HASH,
        "key": key,
        "seq": seq,
        "event": event,
        "from_status": from_status,
        "to_status": to_status,
        "fencing": fencing,
        "actor": actor,
        "at": at,
        "data": data,
    }
    try:
        expected = canonical_hash(fields)
    except Exception as exc:  # noqa: BLE001 - text the canonical form refuses
        with pytest.raises(type(exc)):
            event_hash(**arguments)  # type: ignore[arg-type]
        return
    assert event_hash(**arguments) == expected  # type: ignore[arg-type]
