"""Pure rules: margin math, status derivation, classification, warnings, re-auth tasks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from autopack.domain.credentials import (
    DEFAULT_REFRESH_MARGIN,
    CredentialStatus,
    ErrorClass,
    StoredState,
    TokenFailure,
    classify_token_response,
    classify_transport_failure,
    derive_status,
    needs_refresh,
    profile_warnings,
    reauth_task,
)
from autopack.providers.registry import credential_profile

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@given(st.integers(min_value=-86_400, max_value=86_400))
def test_refresh_margin_is_ten_minutes(seconds: int) -> None:
    expires = NOW + timedelta(seconds=seconds)
    assert needs_refresh(expires, NOW) is (seconds <= 600)
    assert timedelta(minutes=10) == DEFAULT_REFRESH_MARGIN
    assert needs_refresh(None, NOW) is False


def test_status_precedence() -> None:
    def status(**kw: object) -> CredentialStatus:
        base: dict[str, object] = {
            "state": StoredState.ACTIVE,
            "paused": False,
            "expires_at": NOW + timedelta(hours=1),
            "lease_active": False,
            "can_refresh": True,
            "now": NOW,
        }
        base.update(kw)
        return derive_status(**base)  # type: ignore[arg-type]

    assert status() is CredentialStatus.PRESENT
    assert status(expires_at=NOW - timedelta(seconds=1)) is CredentialStatus.PRESENT
    assert (
        status(expires_at=NOW - timedelta(seconds=1), can_refresh=False) is CredentialStatus.EXPIRED
    )
    assert status(lease_active=True) is CredentialStatus.REFRESHING
    assert status(paused=True, lease_active=True) is CredentialStatus.PAUSED
    assert status(state=StoredState.NEEDS_REAUTH, paused=True) is CredentialStatus.NEEDS_REAUTH
    assert status(state=StoredState.INVALID) is CredentialStatus.INVALID


def test_classification() -> None:
    assert classify_token_response(503, None).error_class is ErrorClass.TRANSIENT
    assert classify_token_response(429, "rate_limited").code == "http_429"
    grant = classify_token_response(400, "invalid_grant")
    assert (grant.error_class, grant.code) == (ErrorClass.PERMANENT, "invalid_grant")
    # Provider text is never echoed unless it is a plain error word.
    assert classify_token_response(400, "<script>alert(1)</script>").code == "unrecognized_error"
    before = classify_transport_failure(request_sent=False, rotating_refresh=True)
    assert before.error_class is ErrorClass.TRANSIENT
    lost = classify_transport_failure(request_sent=True, rotating_refresh=True)
    assert (lost.error_class, lost.code) == (ErrorClass.PERMANENT, "refresh_response_lost")
    google = classify_transport_failure(request_sent=True, rotating_refresh=False)
    assert google.error_class is ErrorClass.TRANSIENT


def test_warnings() -> None:
    fresh = profile_warnings(
        profile=credential_profile("youtube"),
        environment="production",
        key_hint=None,
        refresh_issued_at=NOW - timedelta(days=1),
        now=NOW,
    )
    assert [(w.code, w.severity) for w in fresh] == [("google_testing_refresh_expiry", "warning")]
    assert "2026-11-30T12:00:00Z" in fresh[0].message
    old = profile_warnings(
        profile=credential_profile("youtube"),
        environment="production",
        key_hint=None,
        refresh_issued_at=NOW - timedelta(days=6, hours=1),
        now=NOW,
    )
    assert old[0].severity == "critical"
    live_on_paper = profile_warnings(
        profile=credential_profile("alpaca"),
        environment="paper",
        key_hint="AK",
        refresh_issued_at=None,
        now=NOW,
    )
    assert [w.code for w in live_on_paper] == ["live_key_on_paper_host"]
    assert (
        profile_warnings(
            profile=credential_profile("etsy"),
            environment="production",
            key_hint=None,
            refresh_issued_at=NOW,
            now=NOW,
        )
        == []
    )


def test_reauth_task_is_deterministic() -> None:
    failure = TokenFailure(ErrorClass.PERMANENT, "invalid_grant", 400)
    one = reauth_task(
        provider="etsy", account="shop1", kind="oauth2", environment="production", failure=failure
    )
    two = reauth_task(
        provider="etsy", account="shop1", kind="oauth2", environment="production", failure=failure
    )
    assert (one.json_bytes, one.markdown_bytes) == (two.json_bytes, two.markdown_bytes)
    assert "autopack credentials connect etsy --account shop1" in one.markdown
    other = reauth_task(
        provider="etsy",
        account="shop1",
        kind="oauth2",
        environment="production",
        failure=TokenFailure(ErrorClass.PERMANENT, "refresh_response_lost"),
    )
    assert other.document["task_id"] != one.document["task_id"]
    key = reauth_task(
        provider="alpaca", account="live1", kind="api_key", environment="live", failure=failure
    )
    assert "add-key --provider alpaca --account live1" in key.document["resolve_with"]
