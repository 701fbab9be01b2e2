"""The encrypted store, connect (PKCE), refresh basics, health and key rotation."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, text

from autopack.db.models import CredentialRow
from autopack.domain.credentials import CredentialKeyError, CredentialStatus
from autopack.services.context import Runtime
from autopack.services.credentials import CredentialService
from autopack.services.runtime import build_runtime
from autopack.settings import Settings
from credentials.cred_support import SECRET_KEY, FakeOAuth, connect, credential_hold


def _raw_rows(runtime: Runtime) -> list[dict[str, Any]]:
    with runtime.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(CredentialRow.__table__)).mappings()]


def _secrets(service: CredentialService, runtime: Runtime) -> dict[str, str]:
    out: dict[str, str] = {}
    with runtime.engine.connect() as conn:
        for row in _raw_rows(runtime):
            out.update(
                {f"{row['provider']}.{k}": v for k, v in service.store.decrypt(conn, row).items()}
            )
    return out


def test_pkce_connect_end_to_end(
    service: CredentialService, fake_oauth: FakeOAuth, cred_runtime: Runtime
) -> None:
    pending_probe = service.begin_connect("etsy", "shop1", "http://127.0.0.1:1/callback")
    assert "code_challenge_method=S256" in pending_probe.authorize_url
    assert pending_probe.code_verifier not in pending_probe.authorize_url
    health = connect(service, fake_oauth, "etsy", "shop1")
    assert health.status is CredentialStatus.PRESENT
    assert health.has_refresh_token
    counters = fake_oauth.counters()
    assert counters["counters"]["code_exchanges"] == 1
    assert counters["counters"].get("pkce_failures", 0) == 0
    token = service.access_token("etsy", "shop1")
    assert token.startswith("fake-at-")
    events = [e["event"] for e in service.events("etsy", "shop1")]
    assert events == ["connected"]


def test_connect_rejects_state_mismatch_and_denial(
    service: CredentialService, fake_oauth: FakeOAuth
) -> None:
    from autopack.domain.credentials import OAuthConnectError

    pending = service.begin_connect("etsy", "shop1", "http://127.0.0.1:1/callback")
    with pytest.raises(OAuthConnectError) as exc:
        service.complete_connect(pending, "http://127.0.0.1:1/callback?code=x&state=wrong")
    assert exc.value.code == "oauth_state_mismatch"
    with pytest.raises(OAuthConnectError) as exc:
        service.complete_connect(
            pending, f"http://127.0.0.1:1/callback?error=access_denied&state={pending.state}"
        )
    assert exc.value.code == "oauth_denied"
    assert service.health() == []


def test_encryption_at_rest_and_health_without_secrets(
    service: CredentialService, fake_oauth: FakeOAuth, cred_runtime: Runtime
) -> None:
    connect(service, fake_oauth, "youtube", "chan1")
    service.add_api_key(
        "alpaca",
        "paper1",
        key_id="PKTESTKEY123456",
        secret="alpaca-secret-abcdef0123456789",
        environment="paper",
    )
    secrets = _secrets(service, cred_runtime)
    assert {"youtube.access_token", "youtube.refresh_token", "alpaca.secret_key"} <= set(secrets)
    rows = _raw_rows(cred_runtime)
    dump = json.dumps(rows, default=str)
    health = json.dumps([h.to_dict() for h in service.health()])
    for name, value in secrets.items():
        if name.endswith(("client_id", "token_type")):
            continue
        assert value not in dump, name
        assert value not in health, name
    for row in rows:
        assert row["secret_ciphertext"].startswith("v1.")


def test_ciphertext_is_bound_to_its_row(service: CredentialService, cred_runtime: Runtime) -> None:
    for account in ("one", "two"):
        service.add_api_key(
            "alpaca",
            account,
            key_id=f"PK{account}KEY00000",
            secret=f"s3cret-{account}-0000000",
            environment="paper",
        )
    rows = {r["account"]: r for r in _raw_rows(cred_runtime)}
    with cred_runtime.engine.begin() as conn:
        conn.execute(
            text("UPDATE credentials SET secret_ciphertext = :c WHERE account = 'two'"),
            {"c": rows["one"]["secret_ciphertext"]},
        )
    statuses = {h.account: h.status for h in service.health()}
    assert statuses == {"one": CredentialStatus.PRESENT, "two": CredentialStatus.INVALID}


def test_wrong_secret_key_is_refused(service: CredentialService, cred_settings: Settings) -> None:
    service.add_api_key(
        "alpaca", "acct", key_id="PKKEYID0000001", secret="secret-value-0001", environment="paper"
    )
    other = build_runtime(cred_settings.model_copy(update={"secret_key": None}))
    other_settings = Settings(
        _env_file=None,
        workspace=cred_settings.workspace,
        database_url=cred_settings.database_url,
        secret_key="a-completely-different-key-" + "Pp7" * 10,
    )
    other.close()
    rt = build_runtime(other_settings)
    try:
        with CredentialService(rt) as wrong, pytest.raises(CredentialKeyError):
            wrong.api_key("alpaca", "acct")
    finally:
        rt.close()


def test_key_rotation_reencrypts_everything(
    service: CredentialService, fake_oauth: FakeOAuth, cred_settings: Settings
) -> None:
    connect(service, fake_oauth, "etsy", "shop1")
    service.add_api_key(
        "alpaca", "acct", key_id="PKKEYID0000001", secret="secret-value-0001", environment="paper"
    )
    before = {r["account"]: r for r in _raw_rows(service.rt)}
    token = service.access_token("etsy", "shop1")
    new_key = "the-new-credential-key-" + "Rr5t" * 10
    new_settings = Settings(
        _env_file=None,
        workspace=cred_settings.workspace,
        database_url=cred_settings.database_url,
        secret_key=new_key,
        oauth_server_url=cred_settings.oauth_server_url,
    )
    rt = build_runtime(new_settings)
    try:
        with CredentialService(rt) as rotated:
            result = rotated.rotate_key(SECRET_KEY)
            assert result["reencrypted"] == 2
            after = {r["account"]: r for r in _raw_rows(rt)}
            for account, row in after.items():
                assert row["key_id"] == result["key_id"] != before[account]["key_id"]
                assert row["secret_ciphertext"] != before[account]["secret_ciphertext"]
            assert rotated.access_token("etsy", "shop1") == token
            assert rotated.api_key("alpaca", "acct")[1] == "secret-value-0001"
    finally:
        rt.close()
    stale = CredentialService(service.rt)
    with pytest.raises(CredentialKeyError):
        stale.api_key("alpaca", "acct")
    # Neither the given old key nor the configured one opens the rows: nothing changes.
    with pytest.raises(CredentialKeyError):
        stale.rotate_key("not-the-old-key-" + "x1" * 20)
    assert {r["key_id"] for r in _raw_rows(service.rt)} == {result["key_id"]}


def test_refresh_rotates_and_swaps(
    service: CredentialService, fake_oauth: FakeOAuth, cred_runtime: Runtime
) -> None:
    connect(service, fake_oauth, "shopify", "store1")
    old = _secrets(service, cred_runtime)
    first = service.access_token("shopify", "store1")
    assert first == old["shopify.access_token"]  # outside the margin: no refresh
    assert fake_oauth.counters()["refresh_requests"] == 0
    later = cred_runtime.clock
    cred_runtime.clock = lambda: later() + timedelta(minutes=55)
    second = service.access_token("shopify", "store1")
    assert second != first
    new = _secrets(service, cred_runtime)
    assert new["shopify.refresh_token"] != old["shopify.refresh_token"]
    assert fake_oauth.counters()["refresh_requests"] == 1
    assert service.access_token("shopify", "store1") == second
    assert fake_oauth.counters()["refresh_requests"] == 1
    health = service.health_one("shopify", "store1")
    assert health.refresh_count == 1
    assert health.status is CredentialStatus.PRESENT


def test_the_credentials_gate_holds_until_connected(
    service: CredentialService, fake_oauth: FakeOAuth
) -> None:
    assert credential_hold(service.rt, "sandbox", "any") is None
    reason = credential_hold(service.rt, "etsy", "shop1")
    assert reason is not None
    assert "connect etsy" in reason
    connect(service, fake_oauth, "etsy", "shop1")
    assert credential_hold(service.rt, "etsy", "shop1") is None


def test_events_are_insert_only(service: CredentialService) -> None:
    from sqlalchemy.exc import DBAPIError

    service.add_api_key(
        "alpaca", "acct", key_id="PKKEYID0000001", secret="secret-value-0001", environment="paper"
    )
    for statement in ("UPDATE credential_events SET event = 'x'", "DELETE FROM credential_events"):
        with pytest.raises(DBAPIError, match="insert-only"), service.rt.engine.begin() as conn:
            conn.execute(text(statement))


def test_alpaca_paper_key_on_live_host_warns(service: CredentialService) -> None:
    health = service.add_api_key(
        "alpaca",
        "live1",
        key_id="PKLOOKSPAPER0001",
        secret="secret-value-0001",
        environment="live",
    )
    assert [w["code"] for w in health.warnings] == ["paper_key_on_live_host"]
    ok = service.add_api_key(
        "alpaca",
        "paper1",
        key_id="PKLOOKSPAPER0002",
        secret="secret-value-0002",
        environment="paper",
    )
    assert ok.warnings == []
