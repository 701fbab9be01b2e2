"""The gate contract and each gate, pure: facts in, a decision out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from autopack.domain.errors import InvalidInputError
from autopack.domain.gates import (
    ActionFacts,
    ApprovalFacts,
    CredentialFacts,
    CredentialRequirement,
    GateFacts,
    HaltFacts,
    Verdict,
)
from autopack.domain.gates.pipeline import decide
from autopack.domain.halts import HaltScope, parse_scope, validate_reason

NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)
HASH = "a" * 64
GOOD_APPROVAL = ApprovalFacts("approved", (HASH,), NOW + timedelta(hours=1))
NO_CREDS_NEEDED = CredentialFacts(CredentialRequirement.NONE)


def facts(
    *,
    approval: ApprovalFacts | None = GOOD_APPROVAL,
    credential: CredentialFacts = NO_CREDS_NEEDED,
    halts: tuple[HaltFacts, ...] = (),
    attempt_count: int = 0,
) -> GateFacts:
    return GateFacts(
        now=NOW,
        action=ActionFacts("shopify", "metafields.set", "store1", "other", HASH, attempt_count),
        approval=approval,
        credential=credential,
        halts=halts,
    )


def test_everything_in_order_allows() -> None:
    decision = decide(facts())
    assert decision.verdict is Verdict.ALLOW
    assert decision.reason is None
    assert decision.code is None
    assert decision.results == ()


@pytest.mark.parametrize(
    ("credential", "code", "words"),
    [
        (
            CredentialFacts(CredentialRequirement.OAUTH),
            "credentials_missing",
            "autopack credentials connect shopify --account store1",
        ),
        (
            CredentialFacts(CredentialRequirement.API_KEY),
            "credentials_missing",
            "autopack credentials add-key --provider shopify --account store1",
        ),
        (
            CredentialFacts(CredentialRequirement.OAUTH, stored=True, state="active", paused=True),
            "credentials_paused",
            "is paused (operator)",
        ),
        (
            CredentialFacts(
                CredentialRequirement.OAUTH,
                stored=True,
                state="needs_reauth",
                pause_code="invalid_grant",
            ),
            "credentials_needs_reauth",
            "need re-authorization (invalid_grant)",
        ),
        (
            CredentialFacts(CredentialRequirement.API_KEY, stored=True, state="invalid"),
            "credentials_invalid",
            "are invalid",
        ),
    ],
)
def test_credentials_that_cannot_be_used_hold(
    credential: CredentialFacts, code: str, words: str
) -> None:
    decision = decide(facts(credential=credential))
    assert decision.verdict is Verdict.HOLD
    assert decision.code == code
    assert decision.reason is not None
    assert words in decision.reason


def test_active_stored_credentials_allow() -> None:
    stored = CredentialFacts(CredentialRequirement.OAUTH, stored=True, state="active")
    assert decide(facts(credential=stored)).verdict is Verdict.ALLOW


@pytest.mark.parametrize(
    ("approval", "attempts", "code"),
    [
        (None, 0, "not_approved"),
        (ApprovalFacts("pending", (HASH,), NOW + timedelta(hours=1)), 0, "not_approved"),
        (
            ApprovalFacts("approved", ("b" * 64,), NOW + timedelta(hours=1)),
            0,
            "approval_hash_mismatch",
        ),
        (ApprovalFacts("approved", (HASH,), NOW - timedelta(seconds=1)), 0, "approval_expired"),
    ],
)
def test_an_approval_that_does_not_hold_refuses(
    approval: ApprovalFacts | None, attempts: int, code: str
) -> None:
    decision = decide(facts(approval=approval, attempt_count=attempts))
    assert decision.verdict is Verdict.REFUSE
    assert decision.code == code


def test_an_expired_approval_still_covers_a_retry_of_a_started_action() -> None:
    late = ApprovalFacts("approved", (HASH,), NOW - timedelta(hours=1))
    assert decide(facts(approval=late, attempt_count=1)).verdict is Verdict.ALLOW


def test_a_halt_holds_and_names_the_command_that_releases_it() -> None:
    halts = (HaltFacts(7, "provider:shopify", "launch freeze"), HaltFacts(3, "all", "incident"))
    decision = decide(facts(halts=halts))
    assert decision.verdict is Verdict.HOLD
    assert decision.code == "halted"
    assert decision.reason is not None
    assert "halt 3, 7" in decision.reason
    assert "autopack halt release 3" in decision.reason
    assert "incident" in decision.reason


def test_a_hold_wins_over_a_refusal_and_both_are_reported() -> None:
    """While something holds an action, the pipeline changes nothing about it."""
    decision = decide(facts(approval=None, halts=(HaltFacts(1, "all", "stop"),)))
    assert decision.verdict is Verdict.HOLD
    assert [r.gate for r in decision.results] == ["halt", "approval"]
    assert [r.gate for r in decision.blocking] == ["halt"]
    assert decision.reason is not None
    assert "not_approved" not in decision.reason


def test_several_holds_are_all_explained() -> None:
    decision = decide(
        facts(
            halts=(HaltFacts(1, "all", "stop"),),
            credential=CredentialFacts(CredentialRequirement.OAUTH),
        )
    )
    assert [r.code for r in decision.blocking] == ["halted", "credentials_missing"]
    assert decision.reason is not None
    assert "; " in decision.reason


@pytest.mark.parametrize(
    ("text", "scope"),
    [
        ("all", HaltScope()),
        ("provider:youtube", HaltScope("youtube")),
        ("account:alpaca/live-1", HaltScope("alpaca", "live-1")),
    ],
)
def test_scopes_round_trip(text: str, scope: HaltScope) -> None:
    assert parse_scope(text) == scope
    assert scope.text == text


@pytest.mark.parametrize(
    "text",
    [
        "",
        "ALL",
        "everything",
        "provider:",
        "provider:a/b",
        "account:youtube",
        "account:/x",
        "account:a/",
        "provider:Bad Name",
        "account:a/b/c",
        "x:y",
    ],
)
def test_bad_scopes_are_refused_with_a_stable_code(text: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_scope(text)
    assert caught.value.code == "invalid_scope"
    assert "'all'" in caught.value.message


@pytest.mark.parametrize("reason", ["", "   ", "x" * 501])
def test_a_halt_needs_a_reason(reason: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        validate_reason(reason)
    assert caught.value.code == "invalid_reason"
