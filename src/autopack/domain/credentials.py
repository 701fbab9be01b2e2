"""Credentials: the pure rules of the encrypted store and the OAuth2 lifecycle.

No I/O here. The service (``autopack.services.credentials``) owns the database,
the encryption and the HTTP calls; this module decides:

- statuses a credential can be in and how they are derived from stored facts;
- how a token-endpoint failure is classified (transient, rotated by a peer,
  permanent) and what each class means for the account;
- the refresh margin (refresh proactively this long before expiry);
- the shape of a provider's credential profile (endpoints and scopes as data,
  whether it rotates refresh tokens, refresh-token expiry habits, API key hosts)
  and the warnings health derives from it (Google "Testing" apps lose refresh
  tokens after 7 days; an Alpaca paper key pointed at the live host). The
  profiles themselves are declared by the provider units
  (``autopack.providers.<name>``) and passed in;
- the re-auth task written when an account needs a person: the same failure
  always renders the same bytes (no wall clock inside).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from autopack.domain.canonical import canonical_hash, canonical_json, format_utc
from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import (
    AuthenticationError,
    CheckFailedError,
    ConfigurationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    UnavailableError,
)
from autopack.domain.layout import validate_identifier
from autopack.domain.redaction import MIN_SECRET_LENGTH

DEFAULT_REFRESH_MARGIN: Final = timedelta(minutes=10)
# The redaction library ignores shorter secrets, so the store refuses them.
MIN_STORED_SECRET_LENGTH: Final = MIN_SECRET_LENGTH
MAX_STORED_SECRET_LENGTH: Final = 8192
REAUTH_TASK_SCHEMA: Final = "autopack.reauth-task/1"


class CredentialKind(enum.StrEnum):
    OAUTH2 = "oauth2"
    API_KEY = "api_key"


class Environment(enum.StrEnum):
    PAPER = "paper"
    LIVE = "live"
    PRODUCTION = "production"
    DEVELOPMENT = "development"


class StoredState(enum.StrEnum):
    """What the store records; the health status is derived from it."""

    ACTIVE = "active"
    NEEDS_REAUTH = "needs_reauth"
    INVALID = "invalid"


class CredentialStatus(enum.StrEnum):
    """What health shows for one provider account."""

    PRESENT = "present"
    MISSING = "missing"
    EXPIRED = "expired"
    REFRESHING = "refreshing"
    NEEDS_REAUTH = "needs_reauth"
    INVALID = "invalid"
    PAUSED = "paused"


class ErrorClass(enum.StrEnum):
    # 5xx, 429, network errors before the request was sent: retry with backoff.
    TRANSIENT = "transient"
    # invalid_grant, but the stored refresh token is no longer the one we used:
    # a peer rotated it. Re-read and continue; never a failure of the account.
    ROTATED_BY_PEER = "rotated_by_peer"
    # Revoked, invalid_grant with the current token, a rotated token whose
    # response was lost: a person must reconnect.
    PERMANENT = "permanent"


# -- errors (stable codes) ------------------------------------------------------


class UnknownCredentialProviderError(InvalidInputError):
    default_code = ErrorCode.UNKNOWN_CREDENTIAL_PROVIDER


class CredentialNotFoundError(NotFoundError):
    default_code = ErrorCode.CREDENTIAL_NOT_FOUND


class CredentialNeedsReauthError(ConflictError):
    """The account needs a person to reconnect; dispatch for it is paused."""

    default_code = ErrorCode.CREDENTIAL_NEEDS_REAUTH


class RefreshTransientError(UnavailableError):
    """The token endpoint kept failing transiently; nothing was marked revoked."""

    default_code = ErrorCode.REFRESH_TRANSIENT


class RefreshInProgressError(UnavailableError):
    """Another process holds the refresh lease and did not finish in time."""

    default_code = ErrorCode.REFRESH_IN_PROGRESS


class CredentialKeyError(ConfigurationError):
    """The configured secret key cannot open this store."""

    default_code = ErrorCode.CREDENTIAL_KEY_MISMATCH


class CredentialCorruptError(CheckFailedError):
    default_code = ErrorCode.CREDENTIAL_UNDECRYPTABLE


class OAuthConnectError(AuthenticationError):
    default_code = ErrorCode.OAUTH_CONNECT_FAILED


# -- refresh margin ----------------------------------------------------------------


def needs_refresh(
    expires_at: datetime | None, now: datetime, margin: timedelta = DEFAULT_REFRESH_MARGIN
) -> bool:
    """True when the access token expires within ``margin`` of ``now`` (or has)."""
    if expires_at is None:
        return False
    return expires_at - now <= margin


def is_expired(expires_at: datetime | None, now: datetime) -> bool:
    return expires_at is not None and expires_at <= now


def expires_in_seconds(expires_at: datetime | None, now: datetime) -> int | None:
    if expires_at is None:
        return None
    return int((expires_at - now).total_seconds())


def derive_status(
    *,
    state: StoredState,
    paused: bool,
    expires_at: datetime | None,
    lease_active: bool,
    can_refresh: bool,
    now: datetime,
) -> CredentialStatus:
    """The one status health shows; the first matching rule wins."""
    if state is StoredState.INVALID:
        return CredentialStatus.INVALID
    if state is StoredState.NEEDS_REAUTH:
        return CredentialStatus.NEEDS_REAUTH
    if paused:
        return CredentialStatus.PAUSED
    if lease_active:
        return CredentialStatus.REFRESHING
    if is_expired(expires_at, now) and not can_refresh:
        # An expired access token with a refresh token is normal for an idle
        # account: the next use renews it, so it stays "present".
        return CredentialStatus.EXPIRED
    return CredentialStatus.PRESENT


# -- token endpoint classification ----------------------------------------------

PERMANENT_OAUTH_ERRORS: Final = frozenset(
    {
        "invalid_grant",
        "invalid_client",
        "unauthorized_client",
        "unsupported_grant_type",
        "invalid_scope",
        "access_denied",
    }
)


@dataclass(frozen=True, slots=True)
class TokenFailure:
    """A classified failure of one token request. ``code`` is a stable, secret-free word."""

    error_class: ErrorClass
    code: str
    status_code: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "error_class": self.error_class.value,
            "code": self.code,
            "status_code": self.status_code,
        }


def _safe_error_word(error: str | None) -> str:
    """Provider ``error`` values are short ASCII words; anything else is not echoed."""
    if error and len(error) <= 64 and all(c.isalnum() or c in "_-." for c in error):
        return error
    return "unrecognized_error"


def classify_token_response(status_code: int, error: str | None) -> TokenFailure:
    """Classify a token endpoint's error response (the body's ``error`` field, if any).

    ``invalid_grant`` is permanent here; the service turns it into
    ``rotated_by_peer`` when the stored refresh token has changed meanwhile.
    """
    if status_code == 429 or status_code >= 500:
        return TokenFailure(ErrorClass.TRANSIENT, f"http_{status_code}", status_code)
    word = _safe_error_word(error)
    if error is None:
        word = f"http_{status_code}"
    return TokenFailure(ErrorClass.PERMANENT, word, status_code)


def classify_transport_failure(*, request_sent: bool, rotating_refresh: bool) -> TokenFailure:
    """A network failure. Before sending: transient. After sending, the server may
    have rotated the refresh token already; for providers that rotate, retrying
    with the old token would be refused (and may revoke the whole token family),
    so a lost response is permanent there."""
    if not request_sent:
        return TokenFailure(ErrorClass.TRANSIENT, "network_unreachable")
    if rotating_refresh:
        return TokenFailure(ErrorClass.PERMANENT, "refresh_response_lost")
    return TokenFailure(ErrorClass.TRANSIENT, "network_response_lost")


# -- provider profiles ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RefreshExpiryRule:
    """A provider habit health warns about: refresh tokens that die ``lifetime``
    after issue under some condition the store cannot see (Google apps in
    'Testing' publishing status). Critical from ``warn_before`` the deadline."""

    code: str
    lifetime: timedelta
    warn_before: timedelta
    condition: str
    remedy: str

    def warning(self, refresh_issued_at: datetime, now: datetime) -> ProfileWarning:
        deadline = refresh_issued_at + self.lifetime
        return ProfileWarning(
            code=self.code,
            message=f"{self.condition}, its refresh token expires {self.lifetime.days} days "
            f"after issue, at {format_utc(deadline)}: {self.remedy}",
            severity="critical" if deadline - now <= self.warn_before else "warning",
        )


@dataclass(frozen=True, slots=True)
class OAuthProfile:
    """One OAuth2 provider's endpoints and habits, as data.

    ``{account}`` in a URL is replaced by the account (Shopify: the shop name).
    """

    provider: str
    title: str
    authorize_url: str
    token_url: str
    revoke_url: str | None
    scopes: tuple[str, ...]
    rotating_refresh: bool
    client_secret_required: bool
    authorize_params: tuple[tuple[str, str], ...] = ()
    notes: str = ""
    refresh_expiry: RefreshExpiryRule | None = None

    def urls(self, account: str, override_base: str | None = None) -> tuple[str, str]:
        """(authorize URL, token URL), optionally moved to one base URL (fake server)."""
        if override_base:
            base = override_base.rstrip("/")
            return f"{base}/{self.provider}/authorize", f"{base}/{self.provider}/token"
        return (
            self.authorize_url.replace("{account}", account),
            self.token_url.replace("{account}", account),
        )


@dataclass(frozen=True, slots=True)
class ApiKeyProfile:
    provider: str
    title: str
    hosts: Mapping[str, str]  # environment -> API base URL
    environments: tuple[Environment, ...]
    # Key id prefixes that identify the environment a key was issued for.
    key_prefixes: Mapping[str, Environment] = field(default_factory=dict)


CredentialProfile = OAuthProfile | ApiKeyProfile
"""How a provider's accounts authenticate. Each provider unit declares its own
(``autopack.providers.<name>``); the provider registry looks them up."""


def validate_account(account: str) -> str:
    return validate_identifier("account", account)


def validate_secret_value(name: str, value: str) -> str:
    """Stored secrets must be long enough for exact redaction and single-line."""
    if value != value.strip() or any(c in value for c in "\r\n\x00"):
        raise InvalidInputError(f"{name} must be one line without surrounding spaces")
    if not MIN_STORED_SECRET_LENGTH <= len(value) <= MAX_STORED_SECRET_LENGTH:
        raise InvalidInputError(
            f"{name} must be {MIN_STORED_SECRET_LENGTH} to {MAX_STORED_SECRET_LENGTH} characters",
            code=ErrorCode.INVALID_SECRET_LENGTH,
        )
    return value


# -- health warnings ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProfileWarning:
    code: str
    message: str
    severity: str = "warning"  # warning | critical

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message, "severity": self.severity}


def profile_warnings(
    *,
    profile: CredentialProfile | None,
    environment: str,
    key_hint: str | None,
    refresh_issued_at: datetime | None,
    now: datetime,
) -> list[ProfileWarning]:
    """Provider-specific warnings for health. ``key_hint`` is an API key id's 2-letter prefix;
    ``profile`` is None for a stored credential whose provider is no longer registered."""
    warnings: list[ProfileWarning] = []
    if isinstance(profile, OAuthProfile):
        if profile.refresh_expiry is not None and refresh_issued_at is not None:
            warnings.append(profile.refresh_expiry.warning(refresh_issued_at, now))
    elif isinstance(profile, ApiKeyProfile) and key_hint:
        issued_for = profile.key_prefixes.get(key_hint[:2].upper())
        if issued_for is not None and issued_for.value != environment:
            host = profile.hosts.get(environment, environment)
            warnings.append(
                ProfileWarning(
                    code=f"{issued_for.value}_key_on_{environment}_host",
                    message=f"the key id looks like a {issued_for.value} key but is configured "
                    f"for the {environment} host ({host}): requests will be refused",
                    severity="critical",
                )
            )
    return warnings


# -- re-auth tasks ------------------------------------------------------------------

_REASONS: Final[Mapping[str, str]] = {
    "invalid_grant": "The provider refused the stored refresh token (invalid_grant): it was "
    "revoked, expired, or already used.",
    "refresh_response_lost": "A refresh request was sent but its response never arrived. This "
    "provider rotates refresh tokens on every use, so the stored token may already be spent; "
    "retrying it would be refused and could revoke the whole token family.",
    "invalid_client": "The provider refused the OAuth client credentials (invalid_client).",
    "unauthorized_client": "The OAuth client is not allowed to refresh tokens "
    "(unauthorized_client).",
    "invalid_scope": "The provider refused the requested scopes (invalid_scope).",
    "no_refresh_token": "The credential has no refresh token, and its access token expired.",
    "undecryptable": "The stored secret cannot be decrypted with the configured key.",
}


@dataclass(frozen=True, slots=True)
class ReauthTask:
    document: dict[str, Any]
    markdown: str

    @property
    def json_bytes(self) -> bytes:
        return canonical_json(self.document) + b"\n"

    @property
    def markdown_bytes(self) -> bytes:
        return self.markdown.encode("utf-8")


def reauth_task(
    *, provider: str, account: str, kind: str, environment: str, failure: TokenFailure
) -> ReauthTask:
    """The re-auth task for one failure. Same inputs, same bytes: no clock inside."""
    reason = _REASONS.get(
        failure.code,
        f"The provider refused the credential permanently ({failure.code}).",
    )
    if kind == CredentialKind.API_KEY.value:
        command = (
            f"autopack credentials add-key --provider {provider} --account {account} "
            f"--key-id <KEY_ID> --environment {environment}   (secret on stdin)"
        )
    else:
        command = f"autopack credentials connect {provider} --account {account}"
    identity = {
        "provider": provider,
        "account": account,
        "error_class": failure.error_class.value,
        "code": failure.code,
    }
    document: dict[str, Any] = {
        "schema": REAUTH_TASK_SCHEMA,
        "task_id": canonical_hash(identity)[:16],
        "provider": provider,
        "account": account,
        "kind": kind,
        "environment": environment,
        "error_class": failure.error_class.value,
        "error_code": failure.code,
        "status_code": failure.status_code,
        "reason": reason,
        "effect": f"Dispatch for {provider}/{account} is paused: approved actions wait "
        "with this reason instead of failing.",
        "resolve_with": command,
        "after": "A successful reconnect resumes dispatch and removes this task.",
    }
    lines = [
        f"# Re-authorize {provider} account {account}",
        "",
        f"- task id: `{document['task_id']}`",
        f"- provider: `{provider}` ({kind}, {environment})",
        f"- error: {failure.error_class.value} / `{failure.code}`"
        + (f" (HTTP {failure.status_code})" if failure.status_code is not None else ""),
        "",
        "## What happened",
        "",
        reason,
        "",
        "## Effect",
        "",
        document["effect"],
        "",
        "## What to do",
        "",
        "Run:",
        "",
        "```",
        command,
        "```",
        "",
        document["after"],
        "",
    ]
    return ReauthTask(document=document, markdown="\n".join(lines))


def block_reason(
    *, provider: str, account: str, state: StoredState | None, paused: bool, code: str | None
) -> str | None:
    """Why dispatch for this provider account must wait, or None."""
    if state is None:
        return None
    if state is StoredState.NEEDS_REAUTH:
        return (
            f"credentials for {provider}/{account} need re-authorization ({code or 'permanent'}): "
            f"run `autopack credentials connect {provider} --account {account}`"
        )
    if state is StoredState.INVALID:
        return f"credentials for {provider}/{account} are invalid ({code or 'invalid'})"
    if paused:
        return f"dispatch for {provider}/{account} is paused ({code or 'operator'})"
    return None


def scopes_json(scopes: Sequence[str]) -> str:
    return canonical_json(sorted(set(scopes))).decode("utf-8")
