"""The fake OAuth server's protocol rules, and where the store's key comes from."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from autopack.domain.credentials import CredentialKeyError, CredentialNeedsReauthError
from autopack.domain.layout import credentials_key_path
from autopack.fake_oauth.server import s256
from autopack.services.credentials import CredentialService
from autopack.services.secretbox import resolve_secret
from autopack.settings import Settings
from credentials.cred_support import FakeOAuth, connect

REDIRECT = "http://127.0.0.1:9/callback"


def _authorize(fake: FakeOAuth, **params: str) -> dict[str, str]:
    query = {
        "response_type": "code",
        "client_id": "c1",
        "redirect_uri": REDIRECT,
        "state": "st",
        **params,
    }
    response = httpx.get(f"{fake.url}/etsy/authorize?{urlencode(query)}", timeout=10)
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith(REDIRECT)
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def _token(fake: FakeOAuth, **form: str) -> httpx.Response:
    return httpx.post(f"{fake.url}/etsy/token", data=form, timeout=10)


def test_fake_server_pkce_rotation_and_family_revocation(fake_oauth: FakeOAuth) -> None:
    refused = _authorize(fake_oauth, code_challenge="x", code_challenge_method="plain")
    assert refused["error"] == "invalid_request"
    verifier = "v" * 43
    got = _authorize(fake_oauth, code_challenge=s256(verifier), code_challenge_method="S256")
    assert got["state"] == "st"
    base = {"grant_type": "authorization_code", "code": got["code"], "redirect_uri": REDIRECT}
    wrong = _token(fake_oauth, **base, code_verifier="w" * 43)
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_grant"
    # The code was burnt by the failed attempt: single use.
    assert _token(fake_oauth, **base, code_verifier=verifier).status_code == 400
    got = _authorize(fake_oauth, code_challenge=s256(verifier), code_challenge_method="S256")
    tokens = _token(fake_oauth, **{**base, "code": got["code"]}, code_verifier=verifier).json()
    first = tokens["refresh_token"]
    rotated = _token(fake_oauth, grant_type="refresh_token", refresh_token=first).json()
    second = rotated["refresh_token"]
    assert second != first
    reuse = _token(fake_oauth, grant_type="refresh_token", refresh_token=first)
    assert reuse.json()["error"] == "invalid_grant"
    # Reuse revoked the whole family: the current token is dead too.
    assert _token(fake_oauth, grant_type="refresh_token", refresh_token=second).status_code == 400
    counters = fake_oauth.counters()
    assert counters["revocations"] == [{"family": "fam-1", "reason": "reuse"}]
    assert counters["refresh_requests"] == 3
    assert counters["counters"]["pkce_failures"] == 1


def test_refresh_token_lifetime_expiry_needs_reauth(
    service: CredentialService, fake_oauth: FakeOAuth
) -> None:
    """Like a Google 'Testing' app after 7 days: the refresh token simply stops working."""
    connect(service, fake_oauth, "youtube", "chan1")
    fake_oauth.control("POST", "/config", {"refresh_ttl": 0})
    with pytest.raises(CredentialNeedsReauthError):
        service.refresh("youtube", "chan1")
    assert fake_oauth.counters()["revocations"] == []


def test_development_generates_one_private_key_file(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, workspace=tmp_path, database_url="sqlite://")
    first = resolve_secret(settings, os.urandom)
    second = resolve_secret(settings, os.urandom)
    assert first == second
    path = credentials_key_path(tmp_path)
    assert path.read_bytes().strip() == first
    if os.name != "nt":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    configured = Settings(
        _env_file=None, workspace=tmp_path, database_url="sqlite://", secret_key="k" * 8 + "x" * 30
    )
    assert resolve_secret(configured, os.urandom) == ("k" * 8 + "x" * 30).encode()


def test_production_without_secret_key_refuses_to_store(tmp_path: Path) -> None:
    settings = Settings(
        _env_file=None, workspace=tmp_path, database_url="sqlite://", env="production"
    )
    with pytest.raises(CredentialKeyError):
        resolve_secret(settings, os.urandom)
    assert not credentials_key_path(tmp_path).exists()
