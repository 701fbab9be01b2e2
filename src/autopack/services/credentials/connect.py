"""Connecting accounts: OAuth2 authorization code with PKCE, and API key pairs.

One job: start an authorization (URL with S256 challenge and fresh state),
check its callback, exchange the code at the token endpoint and store the
tokens; or validate and store a key pair. A (re)connect resumes dispatch for
the account and removes its re-auth task (the store does both on write).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from autopack.domain.credentials import (
    CredentialKind,
    Environment,
    OAuthConnectError,
    classify_token_response,
    validate_account,
    validate_secret_value,
)
from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import ConfigurationError, InvalidInputError
from autopack.providers.registry import api_key_profile, oauth_profile
from autopack.services.credentials.health import CredentialHealth, health_of
from autopack.services.credentials.store import CredentialStore
from autopack.services.credentials.tokens import TokenEndpoint, TokenFailedError, expiry_seconds


@dataclass(frozen=True, slots=True)
class PendingConnect:
    """One authorization in flight: what the callback is checked against."""

    provider: str
    account: str
    authorize_url: str
    token_url: str
    redirect_uri: str
    state: str
    code_verifier: str
    client_id: str
    client_secret: str | None = field(repr=False, default=None)
    scopes: tuple[str, ...] = ()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class Connector:
    """Connect flows over ``store`` and the token ``endpoint``."""

    def __init__(self, store: CredentialStore, endpoint: TokenEndpoint) -> None:
        self.store = store
        self.rt = store.rt
        self.endpoint = endpoint

    def _expiry(self, payload: dict[str, Any]) -> datetime | None:
        seconds = expiry_seconds(payload)
        return None if seconds is None else self.rt.clock() + timedelta(seconds=seconds)

    def _stored(self, **values: Any) -> CredentialHealth:
        fresh, now = self.store.upsert(**values)
        return health_of(fresh, now, decryptable=True)

    def add_api_key(
        self, provider: str, account: str, *, key_id: str, secret: str, environment: str
    ) -> CredentialHealth:
        profile = api_key_profile(provider)
        validate_account(account)
        if environment not in {e.value for e in profile.environments}:
            raise InvalidInputError(
                f"{provider} environments are "
                f"{', '.join(e.value for e in profile.environments)}, not {environment[:32]!r}",
                code=ErrorCode.INVALID_ENVIRONMENT,
            )
        validate_secret_value("key id", key_id)
        validate_secret_value("secret key", secret)
        return self._stored(
            provider=provider,
            account=account,
            kind=CredentialKind.API_KEY,
            environment=environment,
            scopes=[],
            material={"key_id": key_id, "secret_key": secret},
            expires_at=None,
            key_hint=key_id[:2].upper(),
            event="key_added",
        )

    def _client_config(self, provider: str) -> tuple[str, str | None]:
        settings = self.rt.settings
        client_id: str | None = getattr(settings, f"{provider}_client_id", None)
        secret_value = getattr(settings, f"{provider}_client_secret", None)
        client_secret = secret_value.get_secret_value() if secret_value is not None else None
        if client_id is None and settings.oauth_server_url:
            client_id = f"autopack-{provider}-dev"  # the fake server accepts any client id
        if client_id is None:
            raise ConfigurationError(
                f"set AUTOPACK_{provider.upper()}_CLIENT_ID to connect {provider} accounts",
                code=ErrorCode.MISSING_OAUTH_CLIENT,
            )
        profile = oauth_profile(provider)
        if (
            profile.client_secret_required
            and client_secret is None
            and not settings.oauth_server_url
        ):
            raise ConfigurationError(
                f"set AUTOPACK_{provider.upper()}_CLIENT_SECRET to connect {provider} accounts",
                code=ErrorCode.MISSING_OAUTH_CLIENT,
            )
        return client_id, client_secret

    def begin_connect(
        self, provider: str, account: str, redirect_uri: str, scopes: list[str] | None = None
    ) -> PendingConnect:
        """Authorization URL with PKCE (S256) and a fresh state, for ``redirect_uri``."""
        profile = oauth_profile(provider)
        validate_account(account)
        client_id, client_secret = self._client_config(provider)
        authorize_url, token_url = profile.urls(account, self.rt.settings.oauth_server_url)
        verifier = _b64url(self.rt.entropy(32))  # 43 characters, RFC 7636 minimum
        state = _b64url(self.rt.entropy(16))
        chosen = tuple(scopes) if scopes else profile.scopes
        url = prepare_grant_uri(
            authorize_url,
            client_id,
            "code",
            redirect_uri=redirect_uri,
            scope=" ".join(chosen),
            state=state,
            code_challenge=create_s256_code_challenge(verifier),
            code_challenge_method="S256",
            **dict(profile.authorize_params),
        )
        return PendingConnect(
            provider=provider,
            account=account,
            authorize_url=url,
            token_url=token_url,
            redirect_uri=redirect_uri,
            state=state,
            code_verifier=verifier,
            client_id=client_id,
            client_secret=client_secret,
            scopes=chosen,
        )

    def complete_connect(self, pending: PendingConnect, callback_url: str) -> CredentialHealth:
        """Check the callback (state, error), exchange the code, store, resume."""
        query = {k: v[0] for k, v in parse_qs(urlsplit(callback_url).query).items()}
        if query.get("state") != pending.state:
            raise OAuthConnectError(
                "the OAuth callback state does not match this connect attempt",
                code=ErrorCode.OAUTH_STATE_MISMATCH,
            )
        if "error" in query:
            word = classify_token_response(400, query["error"]).code
            raise OAuthConnectError(
                f"the provider refused the authorization: {word}", code=ErrorCode.OAUTH_DENIED
            )
        code = query.get("code")
        if not code:
            raise OAuthConnectError(
                "the OAuth callback carries no code", code=ErrorCode.OAUTH_NO_CODE
            )
        params: dict[str, Any] = {
            "code": code,
            "code_verifier": pending.code_verifier,
            "client_id": pending.client_id,
        }
        if pending.client_secret:
            params["client_secret"] = pending.client_secret
        body = prepare_token_request(
            "authorization_code", redirect_uri=pending.redirect_uri, **params
        )
        profile = oauth_profile(pending.provider)
        try:
            payload = self.endpoint.request(
                pending.token_url, body, rotating=profile.rotating_refresh
            )
        except TokenFailedError as exc:
            raise OAuthConnectError(
                f"code exchange failed: {exc.failure.error_class.value} ({exc.failure.code})",
                code=ErrorCode.OAUTH_EXCHANGE_FAILED,
                details=exc.failure.to_dict(),
            ) from None
        material = {
            "access_token": payload["access_token"],
            "token_type": str(payload.get("token_type", "Bearer")),
            "client_id": pending.client_id,
        }
        if payload.get("refresh_token"):
            material["refresh_token"] = str(payload["refresh_token"])
        if pending.client_secret:
            material["client_secret"] = pending.client_secret
        granted = str(payload.get("scope") or " ".join(pending.scopes)).split()
        return self._stored(
            provider=pending.provider,
            account=pending.account,
            kind=CredentialKind.OAUTH2,
            environment=Environment.PRODUCTION.value,
            scopes=granted,
            material=material,
            expires_at=self._expiry(payload),
            key_hint=None,
            event="connected",
        )
