"""Refresh failures: lost response, 5xx/429 storms, revocation, pause and resume."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import text

from autopack.domain.credentials import (
    CredentialNeedsReauthError,
    CredentialStatus,
    RefreshTransientError,
)
from autopack.services.context import Runtime
from autopack.services.credentials import CredentialService, task_file
from credentials.cred_support import FakeOAuth, connect, credential_hold, credential_ready


def _age(runtime: Runtime, minutes: int = 55) -> None:
    base = runtime.clock
    runtime.clock = lambda: base() + timedelta(minutes=minutes)


def _blocked(service: CredentialService, provider: str, account: str) -> str | None:
    return credential_hold(service.rt, provider, account)


def test_lost_refresh_response_pauses_once_without_loop(
    service: CredentialService, fake_oauth: FakeOAuth, cred_runtime: Runtime
) -> None:
    connect(service, fake_oauth, "etsy", "shop1")
    _age(cred_runtime)
    fake_oauth.fault(kind="lost_after_commit", grant="refresh_token", count=1)
    with pytest.raises(CredentialNeedsReauthError) as exc:
        service.access_token("etsy", "shop1")
    assert exc.value.details["code"] == "refresh_response_lost"
    assert fake_oauth.counters()["refresh_requests"] == 1
    # Within the same cycle: paused, task written; further calls do not refresh.
    health = service.health_one("etsy", "shop1")
    assert health.status is CredentialStatus.NEEDS_REAUTH
    assert health.dispatch_paused
    assert health.last_error_code == "refresh_response_lost"
    md = task_file(cred_runtime.workspace, "etsy", "shop1")
    assert md.is_file()
    assert md.with_suffix(".json").is_file()
    assert health.reauth_task == md.relative_to(cred_runtime.workspace).as_posix()
    for _ in range(5):
        with pytest.raises(CredentialNeedsReauthError):
            service.access_token("etsy", "shop1")
    counters = fake_oauth.counters()
    assert counters["refresh_requests"] == 1
    assert counters["revocations"] == []  # never retried the spent token
    reason = _blocked(service, "etsy", "shop1")
    assert reason is not None
    assert "re-authorization" in reason


def test_5xx_storm_stays_within_bound_and_is_not_revoked(
    service: CredentialService, fake_oauth: FakeOAuth, cred_runtime: Runtime
) -> None:
    connect(service, fake_oauth, "shopify", "store1")
    _age(cred_runtime)
    fake_oauth.fault(kind="status", status=503, grant="refresh_token", count=50)
    for _ in range(3):
        with pytest.raises(RefreshTransientError):
            service.access_token("shopify", "store1")
    attempts = service.policy.max_attempts
    assert fake_oauth.counters()["refresh_requests"] == 3 * attempts
    health = service.health_one("shopify", "store1")
    assert health.status is not CredentialStatus.NEEDS_REAUTH
    assert not health.dispatch_paused
    assert health.last_error_class == "transient"
    assert health.last_error_code == "http_503"
    assert health.failure_count == 3
    assert health.total_failures == 3
    assert _blocked(service, "shopify", "store1") is None
    assert not task_file(cred_runtime.workspace, "shopify", "store1").exists()
    # The storm ends: the next call refreshes and the failure count resets.
    fake_oauth.control("DELETE", "/faults")
    assert service.access_token("shopify", "store1").startswith("fake-at-")
    health = service.health_one("shopify", "store1")
    assert health.failure_count == 0
    assert health.total_failures == 3
    assert fake_oauth.counters()["revocations"] == []


def test_429_then_success_within_one_call(
    service: CredentialService, fake_oauth: FakeOAuth, cred_runtime: Runtime
) -> None:
    connect(service, fake_oauth, "etsy", "shop1")
    _age(cred_runtime)
    fake_oauth.fault(kind="status", status=429, grant="refresh_token", count=2, retry_after=0)
    assert service.access_token("etsy", "shop1").startswith("fake-at-")
    assert fake_oauth.counters()["refresh_requests"] == 3
    assert service.health_one("etsy", "shop1").status is CredentialStatus.PRESENT


def test_revocation_pauses_then_reconnect_resumes(
    service: CredentialService, fake_oauth: FakeOAuth, cred_runtime: Runtime
) -> None:
    connect(service, fake_oauth, "youtube", "chan1")
    fake_oauth.control("POST", "/revoke", {"provider": "youtube"})
    with pytest.raises(CredentialNeedsReauthError) as exc:
        service.refresh("youtube", "chan1")
    assert exc.value.details["code"] == "invalid_grant"
    assert fake_oauth.counters()["refresh_requests"] == 1  # first occurrence, no retry
    md = task_file(cred_runtime.workspace, "youtube", "chan1")
    first = (md.read_bytes(), md.with_suffix(".json").read_bytes())
    document = json.loads(first[1])
    assert document["error_code"] == "invalid_grant"
    assert document["resolve_with"] == "autopack credentials connect youtube --account chan1"
    assert _blocked(service, "youtube", "chan1") is not None
    # Reconnect: resumed, task removed, dispatch unblocked.
    health = connect(service, fake_oauth, "youtube", "chan1")
    assert health.status is CredentialStatus.PRESENT
    assert not health.dispatch_paused
    assert not md.exists()
    assert _blocked(service, "youtube", "chan1") is None
    events = [e["event"] for e in service.events("youtube", "chan1")]
    assert events[:3] == ["resumed", "connected", "paused"]
    # The same failure again renders the same task bytes (no clock inside).
    fake_oauth.control("POST", "/revoke", {"provider": "youtube"})
    _age(cred_runtime, minutes=600)
    with pytest.raises(CredentialNeedsReauthError):
        service.access_token("youtube", "chan1")
    assert (md.read_bytes(), md.with_suffix(".json").read_bytes()) == first


def test_invalid_grant_after_peer_rotation_is_not_a_failure(
    service: CredentialService, fake_oauth: FakeOAuth, cred_runtime: Runtime
) -> None:
    """A refresher whose lease expired mid-flight must not pause the account."""
    connect(service, fake_oauth, "etsy", "shop1")
    peer = CredentialService(cred_runtime, policy=service.policy)
    # The peer refreshes first; our stale attempt then carries a rotated token.
    with cred_runtime.engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM credentials")).mappings().one()
        stale = service.store.decrypt(conn, row)["refresh_token"]
    peer.refresh("etsy", "shop1")
    owner = "stale-owner"
    with cred_runtime.engine.begin() as conn:
        conn.execute(text("UPDATE credentials SET lease_owner = :o"), {"o": owner})
    from autopack.domain.credentials import ErrorClass, TokenFailure

    result = service.refresher.after_failure(
        "etsy", "shop1", owner, stale, TokenFailure(ErrorClass.PERMANENT, "invalid_grant", 400)
    )
    assert result["access_token"] == peer.access_token("etsy", "shop1")
    health = service.health_one("etsy", "shop1")
    assert health.status is CredentialStatus.PRESENT
    assert not health.dispatch_paused
    assert service.events("etsy", "shop1")[0]["event"] == "rotated_by_peer"
    peer.close()


def _ready(service: CredentialService, provider: str, account: str) -> bool:
    return credential_ready(service.rt, provider, account)


def test_the_claim_prefilter_matches_the_credentials_gate(
    service: CredentialService, fake_oauth: FakeOAuth
) -> None:
    assert _ready(service, "sandbox", "main")
    assert not _ready(service, "etsy", "shop1")  # no credential yet
    connect(service, fake_oauth, "etsy", "shop1")
    assert _ready(service, "etsy", "shop1")
    fake_oauth.control("POST", "/revoke", {"provider": "etsy"})
    with pytest.raises(CredentialNeedsReauthError):
        service.refresh("etsy", "shop1")
    assert not _ready(service, "etsy", "shop1")
    assert _blocked(service, "etsy", "shop1") is not None
    connect(service, fake_oauth, "etsy", "shop1")
    assert _ready(service, "etsy", "shop1")
    assert _blocked(service, "etsy", "shop1") is None


def test_5xx_storm_concurrent_callers_share_one_retry_budget(
    service: CredentialService, fake_oauth: FakeOAuth, cred_runtime: Runtime
) -> None:
    """Callers waiting on a peer's refresh take its transient failure: one budget in total."""
    import threading

    connect(service, fake_oauth, "etsy", "shop1")
    _age(cred_runtime)
    fake_oauth.fault(kind="status", status=502, grant="refresh_token", count=100)
    peers = [CredentialService(cred_runtime, policy=service.policy) for _ in range(6)]
    barrier = threading.Barrier(len(peers))
    errors: list[str] = []

    def call(peer: CredentialService) -> None:
        barrier.wait()
        try:
            peer.access_token("etsy", "shop1")
        except RefreshTransientError as exc:
            errors.append(exc.code)

    threads = [threading.Thread(target=call, args=(p,)) for p in peers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for peer in peers:
        peer.close()
    assert errors == ["refresh_transient"] * len(peers)
    assert fake_oauth.counters()["refresh_requests"] == service.policy.max_attempts
    health = service.health_one("etsy", "shop1")
    assert health.status is CredentialStatus.PRESENT
    assert not health.dispatch_paused
