"""The credential store: encrypted OAuth2 tokens and API keys, refresh, health.

Storage: ``credentials`` (one row per provider account; the secret material only
in ``secret_ciphertext``, AES-256-GCM, see :mod:`autopack.services.secretbox`),
``credential_keys`` (salts and key ids, never keys) and the insert-only
``credential_events``.

Refresh is single-flight across threads, processes and machines, through the
database only:

1. read the row; if the access token is outside the refresh margin, use it;
2. if another caller holds the refresh lease, wait and re-read (a changed
   ``version`` means a peer refreshed: use its token);
3. take the lease with a compare-and-set UPDATE on (version, lease free);
4. re-read the secret after acquiring, call the token endpoint (tenacity:
   bounded attempts, exponential backoff, only transient failures retried);
5. swap in the new tokens only if the stored refresh token is still the one
   used (row locked: ``FOR UPDATE`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite),
   so a peer's rotation is never overwritten.

Permanent failures (revoked, ``invalid_grant`` with the current token, a lost
response from a provider that rotates refresh tokens) pause dispatch for that
provider account and write a deterministic re-auth task; a successful reconnect
resumes it. Transient failures never mark anything revoked.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final, cast
from urllib.parse import parse_qs, urlsplit

import httpx
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from sqlalchemy import (
    ColumnElement,
    Connection,
    Table,
    and_,
    delete,
    exists,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from autopack.db.engine import read_only
from autopack.db.models import CredentialEventRow, CredentialKeyRow, CredentialRow
from autopack.domain.canonical import canonical_json, format_utc
from autopack.domain.credentials import (
    DEFAULT_REFRESH_MARGIN,
    CredentialCorruptError,
    CredentialKeyError,
    CredentialKind,
    CredentialNeedsReauthError,
    CredentialNotFoundError,
    CredentialStatus,
    Environment,
    ErrorClass,
    OAuthConnectError,
    RefreshInProgressError,
    RefreshTransientError,
    StoredState,
    TokenFailure,
    block_reason,
    classify_token_response,
    classify_transport_failure,
    derive_status,
    expires_in_seconds,
    is_expired,
    needs_refresh,
    profile_warnings,
    reauth_task,
    scopes_json,
    validate_account,
    validate_secret_value,
)
from autopack.domain.errors import ConfigurationError, InvalidInputError
from autopack.domain.layout import reauth_task_paths
from autopack.domain.redaction import Redactor
from autopack.providers.registry import (
    API_KEY_PROFILES,
    CREDENTIAL_PROVIDERS,
    DEFAULT_REDACTOR,
    OAUTH_PROFILES,
    api_key_profile,
    credential_profile,
    oauth_profile,
    secret_settings,
    validate_credential_provider,
)
from autopack.services.context import Runtime
from autopack.services.fsio import atomic_write_bytes
from autopack.services.secretbox import SecretBox, associated_data, new_salt, resolve_secret

CREDS = cast(Table, CredentialRow.__table__)
KEYS = cast(Table, CredentialKeyRow.__table__)
EVENTS = cast(Table, CredentialEventRow.__table__)
Row = Mapping[Any, Any]

DEFAULT_EVENTS_LIMIT: Final = 100
MAX_EVENTS_LIMIT: Final = 1000
# Fields of the decrypted material that are secrets (all of them are registered
# with the redaction library; client_id and token_type are not secret).
SECRET_FIELDS: Final = ("access_token", "refresh_token", "client_secret", "key_id", "secret_key")
_BASE_REDACTOR: Final = DEFAULT_REDACTOR
log = logging.getLogger("autopack.credentials")
Sleep = Callable[[float], None]


@dataclass(frozen=True, slots=True)
class RefreshPolicy:
    """Bounds of one refresh. Defaults suit real providers; tests shrink the waits."""

    max_attempts: int = 4
    initial_backoff: float = 0.5
    max_backoff: float = 8.0
    request_timeout: float = 15.0
    # How long a waiter waits for a peer's refresh before giving up.
    wait_timeout: float = 90.0
    poll_interval: float = 0.02
    margin: timedelta = DEFAULT_REFRESH_MARGIN

    @property
    def lease(self) -> timedelta:
        """Longer than the worst case of one refresh (all attempts and waits)."""
        worst = self.max_attempts * (self.request_timeout + self.max_backoff)
        return timedelta(seconds=worst + 30)


@dataclass(frozen=True, slots=True)
class CredentialHealth:
    """What health shows for one provider account. Holds no secret material."""

    provider: str
    account: str
    kind: str
    environment: str
    status: CredentialStatus
    scopes: list[str]
    expires_at: datetime | None
    expires_in: int | None
    has_refresh_token: bool
    dispatch_paused: bool
    last_success_at: datetime | None
    last_failure_at: datetime | None
    last_error_class: str | None
    last_error_code: str | None
    failure_count: int
    total_failures: int
    refresh_count: int
    reauth_task: str | None
    warnings: list[dict[str, str]]
    updated_at: datetime

    def to_dict(self) -> dict[str, Any]:
        def when(moment: datetime | None) -> str | None:
            return None if moment is None else format_utc(moment)

        return {
            "provider": self.provider,
            "account": self.account,
            "kind": self.kind,
            "environment": self.environment,
            "status": self.status.value,
            "scopes": self.scopes,
            "expires_at": when(self.expires_at),
            "expires_in": self.expires_in,
            "has_refresh_token": self.has_refresh_token,
            "dispatch_paused": self.dispatch_paused,
            "last_success_at": when(self.last_success_at),
            "last_failure_at": when(self.last_failure_at),
            "last_error_class": self.last_error_class,
            "last_error_code": self.last_error_code,
            "failure_count": self.failure_count,
            "total_failures": self.total_failures,
            "refresh_count": self.refresh_count,
            "reauth_task": self.reauth_task,
            "warnings": self.warnings,
            "updated_at": when(self.updated_at),
        }


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


class _TokenFailedError(Exception):
    def __init__(self, failure: TokenFailure, retry_after: float | None = None) -> None:
        super().__init__(failure.code)
        self.failure = failure
        self.retry_after = retry_after


class _LeaseLostError(Exception):
    pass


class _Flight:
    """One in-process refresh that other threads wait on."""

    def __init__(self) -> None:
        self._done = threading.Event()
        self._result: dict[str, Any] | None = None
        self._error: BaseException | None = None

    def resolve(self, result: dict[str, Any]) -> None:
        self._result = result
        self._done.set()

    def fail(self, error: BaseException) -> None:
        self._error = error
        self._done.set()

    def wait(self, timeout: float, what: str) -> dict[str, Any]:
        if not self._done.wait(timeout):
            raise RefreshInProgressError(f"{what}: a refresh in this process did not finish")
        if self._error is not None:
            raise self._error
        return dict(self._result or {})


def _is_transient(exc: BaseException) -> bool:
    return isinstance(exc, _TokenFailedError) and exc.failure.error_class is ErrorClass.TRANSIENT


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class CredentialService:
    """Every credential operation. Thread-safe: share one instance per process."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        transport: httpx.BaseTransport | None = None,
        policy: RefreshPolicy | None = None,
        sleep: Sleep = time.sleep,
        actor: str = "autopack",
    ) -> None:
        self.rt = runtime
        self.policy = policy if policy is not None else RefreshPolicy()
        self._sleep = sleep
        self._actor = actor
        self._transport = transport
        self._is_pg = runtime.engine.dialect.name == "postgresql"
        self._lock = threading.Lock()
        self._secret: bytes | None = None
        self._boxes: dict[str, SecretBox] = {}
        self._seen: set[str] = set()
        self._flights: dict[tuple[str, str, bool], _Flight] = {}
        self._http: httpx.Client | None = None
        self._jitter = random.Random(int.from_bytes(runtime.entropy(8), "big"))  # noqa: S311

    # -- plumbing ------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            if self._http is not None:
                self._http.close()
                self._http = None

    def __enter__(self) -> CredentialService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        with self.rt.engine.begin() as conn:
            yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with read_only(self.rt.engine) as conn:
            yield conn

    def _client(self) -> httpx.Client:
        with self._lock:
            if self._http is None:
                self._http = httpx.Client(
                    transport=self._transport,
                    timeout=self.policy.request_timeout,
                    follow_redirects=False,
                    headers={"Accept": "application/json"},
                )
            return self._http

    def _secret_bytes(self) -> bytes:
        with self._lock:
            if self._secret is None:
                self._secret = resolve_secret(self.rt.settings, self.rt.entropy)
            return self._secret

    def _remember(self, material: Mapping[str, Any]) -> None:
        values = [str(material[f]) for f in SECRET_FIELDS if material.get(f)]
        with self._lock:
            self._seen.update(values)
        # The runtime's redactor (ledger, logs, API) masks them from now on.
        self.rt.note_secrets(values)

    def _event(
        self, conn: Connection, provider: str, account: str, event: str, data: Mapping[str, Any]
    ) -> None:
        text = canonical_json(_BASE_REDACTOR.redact_value(dict(data))).decode("utf-8")
        log.info("credential %s/%s %s %s", provider, account, event, text)
        conn.execute(
            insert(EVENTS).values(
                provider=provider,
                account=account,
                event=event,
                actor=self._actor,
                at=self.rt.clock(),
                data=text,
            )
        )

    # -- keys ------------------------------------------------------------------------

    def _derive_checked(self, key_id: str, salt: str, secret: bytes | None = None) -> SecretBox:
        box = SecretBox.derive(
            secret if secret is not None else self._secret_bytes(), bytes.fromhex(salt)
        )
        if box.key_id != key_id:
            raise CredentialKeyError(
                f"the configured AUTOPACK_SECRET_KEY does not open this credential store "
                f"(stored key id {key_id[:8]}...): set the key it was encrypted with, or run "
                "`autopack credentials rotate-key` with the old key on stdin"
            )
        return box

    def _box_for(self, conn: Connection, key_id: str) -> SecretBox:
        with self._lock:
            box = self._boxes.get(key_id)
        if box is not None:
            return box
        row = conn.execute(select(KEYS).where(KEYS.c.key_id == key_id)).mappings().first()
        if row is None:
            raise CredentialCorruptError(
                f"credential key id {key_id[:8]}... is not in the key ring"
            )
        box = self._derive_checked(key_id, row["salt"])
        with self._lock:
            self._boxes[key_id] = box
        return box

    def _active_box(self) -> SecretBox:
        """The active key (created on first use, race-safe through a unique slot)."""
        for _ in range(3):
            with self._tx() as conn:
                row = conn.execute(select(KEYS).where(KEYS.c.active_slot == 1)).mappings().first()
                if row is not None:
                    return self._box_for(conn, row["key_id"])
            salt = new_salt(self.rt.entropy)
            box = SecretBox.derive(self._secret_bytes(), bytes.fromhex(salt))
            try:
                with self._tx() as conn:
                    conn.execute(
                        insert(KEYS).values(
                            key_id=box.key_id,
                            salt=salt,
                            active_slot=1,
                            created_at=self.rt.clock(),
                            retired_at=None,
                        )
                    )
            except IntegrityError:
                continue  # a peer created the key ring first: use theirs
            with self._lock:
                self._boxes[box.key_id] = box
            return box
        raise CredentialKeyError("could not create the credential key ring")

    def _encrypt(
        self, box: SecretBox, provider: str, account: str, kind: str, material: Mapping[str, Any]
    ) -> str:
        self._remember(material)
        plaintext = canonical_json(dict(material))
        return box.encrypt(plaintext, associated_data(provider, account, kind), self.rt.entropy(12))

    def _decrypt(self, conn: Connection, row: Row) -> dict[str, Any]:
        box = self._box_for(conn, row["key_id"])
        raw = box.decrypt(
            row["secret_ciphertext"], associated_data(row["provider"], row["account"], row["kind"])
        )
        material: dict[str, Any] = json.loads(raw)
        self._remember(material)
        return material

    # -- reads -----------------------------------------------------------------------

    def _row(
        self, conn: Connection, provider: str, account: str, *, lock: bool = False
    ) -> RowMapping | None:
        query = select(CREDS).where(CREDS.c.provider == provider, CREDS.c.account == account)
        if lock and self._is_pg:
            query = query.with_for_update()
        return conn.execute(query).mappings().first()

    def _require(
        self, conn: Connection, provider: str, account: str, *, lock: bool = False
    ) -> RowMapping:
        row = self._row(conn, provider, account, lock=lock)
        if row is None:
            raise CredentialNotFoundError(
                f"no credentials for {provider}/{account}",
                details={"provider": provider, "account": account},
            )
        return row

    def _health(self, row: Row, now: datetime, *, decryptable: bool) -> CredentialHealth:
        state = StoredState(row["state"]) if decryptable else StoredState.INVALID
        lease_active = row["lease_owner"] is not None and (
            row["lease_expires_at"] is not None and row["lease_expires_at"] > now
        )
        status = derive_status(
            state=state,
            paused=bool(row["paused"]),
            expires_at=row["expires_at"],
            lease_active=lease_active,
            can_refresh=bool(row["has_refresh_token"]),
            now=now,
        )
        warnings = profile_warnings(
            profile=credential_profile(row["provider"]),
            environment=row["environment"],
            key_hint=row["key_hint"],
            refresh_issued_at=row["refresh_issued_at"],
            now=now,
        )
        return CredentialHealth(
            provider=row["provider"],
            account=row["account"],
            kind=row["kind"],
            environment=row["environment"],
            status=status,
            scopes=list(json.loads(row["scopes"])),
            expires_at=row["expires_at"],
            expires_in=expires_in_seconds(row["expires_at"], now),
            has_refresh_token=bool(row["has_refresh_token"]),
            dispatch_paused=bool(row["paused"]) or state is not StoredState.ACTIVE,
            last_success_at=row["last_success_at"],
            last_failure_at=row["last_failure_at"],
            last_error_class=row["last_error_class"],
            last_error_code=row["last_error_code"] if decryptable else "undecryptable",
            failure_count=int(row["failure_count"]),
            total_failures=int(row["total_failures"]),
            refresh_count=int(row["refresh_count"]),
            reauth_task=row["reauth_task"],
            warnings=[w.to_dict() for w in warnings],
            updated_at=row["updated_at"],
        )

    def health(
        self, provider: str | None = None, account: str | None = None
    ) -> list[CredentialHealth]:
        """Health of every stored credential (optionally one provider / account)."""
        query = select(CREDS).order_by(CREDS.c.provider, CREDS.c.account)
        if provider is not None:
            query = query.where(CREDS.c.provider == validate_credential_provider(provider))
        if account is not None:
            query = query.where(CREDS.c.account == validate_account(account))
        now = self.rt.clock()
        out: list[CredentialHealth] = []
        with self._read() as conn:
            for row in conn.execute(query).mappings().all():
                try:
                    self._decrypt(conn, row)
                    decryptable = True
                except (CredentialCorruptError, CredentialKeyError):
                    decryptable = False
                out.append(self._health(row, now, decryptable=decryptable))
        return out

    def health_one(self, provider: str, account: str) -> CredentialHealth:
        found = self.health(provider, account)
        if not found:
            raise CredentialNotFoundError(f"no credentials for {provider}/{account}")
        return found[0]

    def events(
        self,
        provider: str | None = None,
        account: str | None = None,
        limit: int = DEFAULT_EVENTS_LIMIT,
    ) -> list[dict[str, Any]]:
        """Newest first."""
        limit = max(1, min(limit, MAX_EVENTS_LIMIT))
        query = select(EVENTS).order_by(EVENTS.c.id.desc()).limit(limit)
        if provider is not None:
            query = query.where(EVENTS.c.provider == validate_credential_provider(provider))
        if account is not None:
            query = query.where(EVENTS.c.account == validate_account(account))
        with self._read() as conn:
            rows = conn.execute(query).mappings().all()
        return [
            {
                "id": row["id"],
                "provider": row["provider"],
                "account": row["account"],
                "event": row["event"],
                "actor": row["actor"],
                "at": format_utc(row["at"]),
                "data": json.loads(row["data"]),
            }
            for row in rows
        ]

    # -- writes: store, connect, remove ---------------------------------------------

    def _upsert(
        self,
        *,
        provider: str,
        account: str,
        kind: CredentialKind,
        environment: str,
        scopes: list[str],
        material: Mapping[str, Any],
        expires_at: datetime | None,
        key_hint: str | None,
        event: str,
    ) -> CredentialHealth:
        box = self._active_box()
        now = self.rt.clock()
        ciphertext = self._encrypt(box, provider, account, kind.value, material)
        has_refresh = bool(material.get("refresh_token"))
        values: dict[str, Any] = {
            "kind": kind.value,
            "environment": environment,
            "scopes": scopes_json(scopes),
            "state": StoredState.ACTIVE.value,
            "paused": False,
            "pause_code": None,
            "expires_at": expires_at,
            "refresh_issued_at": now if has_refresh else None,
            "has_refresh_token": has_refresh,
            "key_hint": key_hint,
            "key_id": box.key_id,
            "secret_ciphertext": ciphertext,
            "lease_owner": None,
            "lease_expires_at": None,
            "failure_count": 0,
            "reauth_task": None,
            "updated_at": now,
        }
        with self._tx() as conn:
            row = self._row(conn, provider, account, lock=True)
            if row is None:
                conn.execute(
                    insert(CREDS).values(
                        provider=provider,
                        account=account,
                        version=1,
                        refresh_count=0,
                        total_failures=0,
                        last_success_at=now,
                        last_failure_at=None,
                        last_error_class=None,
                        last_error_code=None,
                        created_at=now,
                        **values,
                    )
                )
                resumed = False
            else:
                resumed = bool(row["paused"]) or row["state"] != StoredState.ACTIVE.value
                conn.execute(
                    update(CREDS)
                    .where(CREDS.c.id == row["id"])
                    .values(version=row["version"] + 1, last_success_at=now, **values)
                )
            self._event(
                conn,
                provider,
                account,
                event,
                {"kind": kind.value, "environment": environment, "scopes": sorted(set(scopes))},
            )
            if resumed:
                self._event(conn, provider, account, "resumed", {"after": event})
            self._remove_task_files(provider, account)
            fresh = self._require(conn, provider, account)
        return self._health(fresh, now, decryptable=True)

    def add_api_key(
        self, provider: str, account: str, *, key_id: str, secret: str, environment: str
    ) -> CredentialHealth:
        profile = api_key_profile(provider)
        validate_account(account)
        if environment not in {e.value for e in profile.environments}:
            raise InvalidInputError(
                f"{provider} environments are "
                f"{', '.join(e.value for e in profile.environments)}, not {environment[:32]!r}",
                code="invalid_environment",
            )
        validate_secret_value("key id", key_id)
        validate_secret_value("secret key", secret)
        return self._upsert(
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

    def api_key(self, provider: str, account: str) -> tuple[str, str, str]:
        """(key id, secret key, API host) for dispatch; refuses accounts that need
        re-authorization (an operator pause is held earlier, by the claim query)."""
        profile = api_key_profile(provider)
        with self._read() as conn:
            row = self._require(conn, provider, validate_account(account))
            self._check_usable(row)
            material = self._decrypt(conn, row)
        return material["key_id"], material["secret_key"], profile.hosts[row["environment"]]

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
                code="missing_oauth_client",
            )
        profile = oauth_profile(provider)
        if (
            profile.client_secret_required
            and client_secret is None
            and not settings.oauth_server_url
        ):
            raise ConfigurationError(
                f"set AUTOPACK_{provider.upper()}_CLIENT_SECRET to connect {provider} accounts",
                code="missing_oauth_client",
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
                code="oauth_state_mismatch",
            )
        if "error" in query:
            word = classify_token_response(400, query["error"]).code
            raise OAuthConnectError(
                f"the provider refused the authorization: {word}", code="oauth_denied"
            )
        code = query.get("code")
        if not code:
            raise OAuthConnectError("the OAuth callback carries no code", code="oauth_no_code")
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
            payload = self._token_request(
                pending.token_url, body, rotating=profile.rotating_refresh
            )
        except _TokenFailedError as exc:
            raise OAuthConnectError(
                f"code exchange failed: {exc.failure.error_class.value} ({exc.failure.code})",
                code="oauth_exchange_failed",
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
        return self._upsert(
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

    def remove(self, provider: str, account: str) -> None:
        validate_credential_provider(provider)
        validate_account(account)
        with self._tx() as conn:
            row = self._require(conn, provider, account, lock=True)
            conn.execute(delete(CREDS).where(CREDS.c.id == row["id"]))
            self._event(conn, provider, account, "removed", {"kind": row["kind"]})
            self._remove_task_files(provider, account)

    def set_paused(self, provider: str, account: str, *, paused: bool) -> CredentialHealth:
        """Operator pause/resume of dispatch for one account (status ``paused``).

        Resuming an account that needs re-authorization is refused: reconnect it.
        """
        validate_credential_provider(provider)
        validate_account(account)
        now = self.rt.clock()
        with self._tx() as conn:
            row = self._require(conn, provider, account, lock=True)
            if not paused and row["state"] != StoredState.ACTIVE.value:
                raise CredentialNeedsReauthError(
                    f"{provider}/{account} needs re-authorization, not a resume: "
                    f"run `autopack credentials connect {provider} --account {account}`"
                )
            if bool(row["paused"]) != paused:
                conn.execute(
                    update(CREDS)
                    .where(CREDS.c.id == row["id"])
                    .values(
                        paused=paused, pause_code="operator" if paused else None, updated_at=now
                    )
                )
                self._event(
                    conn, provider, account, "paused" if paused else "resumed", {"by": "operator"}
                )
            fresh = self._require(conn, provider, account)
            decryptable = True
            try:
                self._decrypt(conn, fresh)
            except (CredentialCorruptError, CredentialKeyError):
                decryptable = False
        return self._health(fresh, now, decryptable=decryptable)

    # -- re-auth tasks -------------------------------------------------------------

    def _remove_task_files(self, provider: str, account: str) -> None:
        for path in reauth_task_paths(self.rt.workspace, provider, account):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def _write_task(self, row: Row, failure: TokenFailure) -> str:
        task = reauth_task(
            provider=row["provider"],
            account=row["account"],
            kind=row["kind"],
            environment=row["environment"],
            failure=failure,
        )
        md_path, json_path = reauth_task_paths(self.rt.workspace, row["provider"], row["account"])
        atomic_write_bytes(json_path, task.json_bytes)
        atomic_write_bytes(md_path, task.markdown_bytes)
        return md_path.relative_to(self.rt.workspace).as_posix()

    def _mark_permanent(
        self, conn: Connection, row: Row, failure: TokenFailure, owner: str | None
    ) -> None:
        now = self.rt.clock()
        task_path = self._write_task(row, failure)
        stmt = update(CREDS).where(CREDS.c.id == row["id"])
        if owner is not None:
            stmt = stmt.where(CREDS.c.lease_owner == owner)
        conn.execute(
            stmt.values(
                state=StoredState.NEEDS_REAUTH.value,
                paused=True,
                pause_code=failure.code,
                lease_owner=None,
                lease_expires_at=None,
                failure_count=row["failure_count"] + 1,
                total_failures=row["total_failures"] + 1,
                last_failure_at=now,
                last_error_class=failure.error_class.value,
                last_error_code=failure.code,
                reauth_task=task_path,
                updated_at=now,
            )
        )
        self._event(
            conn,
            row["provider"],
            row["account"],
            "paused",
            {**failure.to_dict(), "reauth_task": task_path},
        )

    # -- token endpoint -------------------------------------------------------------

    def _token_request(self, url: str, body: str, *, rotating: bool) -> dict[str, Any]:
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        try:
            response = self._client().post(url, content=body.encode("utf-8"), headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout):
            raise _TokenFailedError(
                classify_transport_failure(request_sent=False, rotating_refresh=rotating)
            ) from None
        except httpx.TransportError:
            raise _TokenFailedError(
                classify_transport_failure(request_sent=True, rotating_refresh=rotating)
            ) from None
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if response.status_code == 200:
            if isinstance(payload, dict) and isinstance(payload.get("access_token"), str):
                return payload
            # A success without tokens: the server may have rotated anyway.
            lost = classify_transport_failure(request_sent=True, rotating_refresh=rotating)
            raise _TokenFailedError(TokenFailure(lost.error_class, "invalid_token_response", 200))
        error = payload.get("error") if isinstance(payload, dict) else None
        failure = classify_token_response(
            response.status_code, error if isinstance(error, str) else None
        )
        raise _TokenFailedError(failure, _retry_after(response))

    def _wait(self, state: RetryCallState) -> float:
        policy = self.policy
        attempt = state.attempt_number
        backoff = min(policy.max_backoff, policy.initial_backoff * (2 ** (attempt - 1)))
        outcome = state.outcome
        exc = outcome.exception() if outcome is not None else None
        hinted = exc.retry_after if isinstance(exc, _TokenFailedError) else None
        if hinted is not None:
            backoff = min(policy.max_backoff, max(backoff, hinted))
        return float(backoff)

    def _token_with_retries(self, url: str, body: str, *, rotating: bool) -> dict[str, Any]:
        retrying = Retrying(
            stop=stop_after_attempt(self.policy.max_attempts),
            wait=self._wait,
            retry=retry_if_exception(_is_transient),
            sleep=self._sleep,
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                return self._token_request(url, body, rotating=rotating)
        raise AssertionError("unreachable: tenacity reraises")  # pragma: no cover

    @staticmethod
    def _expiry_seconds(payload: Mapping[str, Any]) -> int | None:
        value = payload.get("expires_in")
        try:
            return None if value is None else int(value)
        except (TypeError, ValueError):
            return None

    def _expiry(self, payload: Mapping[str, Any]) -> datetime | None:
        seconds = self._expiry_seconds(payload)
        return None if seconds is None else self.rt.clock() + timedelta(seconds=seconds)

    # -- refresh -------------------------------------------------------------------

    @staticmethod
    def _check_usable(row: Row) -> None:
        state = StoredState(row["state"])
        if state is not StoredState.ACTIVE:
            reason = block_reason(
                provider=row["provider"],
                account=row["account"],
                state=state,
                paused=bool(row["paused"]),
                code=row["pause_code"],
            )
            raise CredentialNeedsReauthError(
                reason or "credentials need re-authorization",
                details={"provider": row["provider"], "account": row["account"]},
            )

    def access_token(self, provider: str, account: str) -> str:
        """A valid access token, refreshed first when inside the margin (single-flight)."""
        material = self._obtain(provider, account, force=False)
        return str(material["access_token"])

    def refresh(self, provider: str, account: str) -> CredentialHealth:
        """Refresh now (single-flight: joins a peer's refresh if one is running)."""
        self._obtain(provider, account, force=True)
        return self.health_one(provider, account)

    def _read_material(self, provider: str, account: str) -> tuple[RowMapping, dict[str, Any]]:
        with self._read() as conn:
            row = self._require(conn, provider, account)
            self._check_usable(row)
            return row, self._decrypt(conn, row)

    def _obtain(self, provider: str, account: str, *, force: bool) -> dict[str, Any]:
        """In-process single-flight around :meth:`_obtain_once`.

        Threads of one process asking for the same credential at the same time
        share one flight: the leader reads (and, if needed, refreshes through the
        cross-process protocol); the others take its result. A burst of callers
        thus costs one database read per process, not one per caller.
        """
        oauth_profile(provider)
        validate_account(account)
        key = (provider, account, force)
        with self._lock:
            flight = self._flights.get(key)
            leader = flight is None
            if flight is None:
                flight = _Flight()
                self._flights[key] = flight
        if not leader:
            return flight.wait(self.policy.wait_timeout, f"{provider}/{account}")
        try:
            result = self._obtain_once(provider, account, force=force)
        except BaseException as exc:
            flight.fail(exc)
            raise
        else:
            flight.resolve(result)
            return result
        finally:
            with self._lock:
                self._flights.pop(key, None)

    def _obtain_once(self, provider: str, account: str, *, force: bool) -> dict[str, Any]:
        row, material = self._read_material(provider, account)
        if not force and not needs_refresh(row["expires_at"], self.rt.clock(), self.policy.margin):
            return material
        return self._obtain_shared(
            provider,
            account,
            force=force,
            seen=int(row["version"]),
            seen_failures=int(row["total_failures"]),
        )

    def _obtain_shared(
        self, provider: str, account: str, *, force: bool, seen: int, seen_failures: int
    ) -> dict[str, Any]:
        """The cross-process protocol: lease, re-read, refresh, compare-and-swap."""
        profile = oauth_profile(provider)
        policy = self.policy
        deadline = time.monotonic() + policy.wait_timeout
        decided_at_version = seen
        while True:
            now = self.rt.clock()
            row, material = self._read_material(provider, account)
            if row["version"] != decided_at_version:
                return material  # a peer refreshed since we decided: use its tokens
            # Counters, not clocks: machines' clocks may disagree.
            peer_failed = (
                row["lease_owner"] is None
                and row["last_error_class"] == ErrorClass.TRANSIENT.value
                and int(row["total_failures"]) > seen_failures
            )
            if peer_failed:
                # A peer just ran the full retry budget while we waited: share its
                # outcome instead of starting another round of attempts.
                raise RefreshTransientError(
                    f"{provider}/{account}: token endpoint failing ({row['last_error_code']}); "
                    "the credential is kept, try again later",
                    details={
                        "error_class": ErrorClass.TRANSIENT.value,
                        "code": row["last_error_code"],
                    },
                )
            if not force and not needs_refresh(row["expires_at"], now, policy.margin):
                return material
            if not material.get("refresh_token"):
                if is_expired(row["expires_at"], now):
                    with self._tx() as conn:
                        fresh = self._require(conn, provider, account, lock=True)
                        failure = TokenFailure(ErrorClass.PERMANENT, "no_refresh_token")
                        self._mark_permanent(conn, fresh, failure, None)
                    raise CredentialNeedsReauthError(
                        f"{provider}/{account}: access token expired and there is no refresh "
                        f"token: run `autopack credentials connect {provider} --account {account}`"
                    )
                return material
            lease_busy = (
                row["lease_owner"] is not None
                and row["lease_expires_at"] is not None
                and row["lease_expires_at"] > now
            )
            if lease_busy:
                if time.monotonic() > deadline:
                    if not force and not is_expired(row["expires_at"], now):
                        return material
                    raise RefreshInProgressError(
                        f"{provider}/{account}: another process is refreshing; try again"
                    )
                self._sleep(policy.poll_interval * (0.5 + self._jitter.random()))
                continue
            owner = f"{os.getpid()}-{self.rt.entropy(8).hex()}"
            with self._tx() as conn:
                taken = conn.execute(
                    update(CREDS)
                    .where(
                        CREDS.c.id == row["id"],
                        CREDS.c.version == row["version"],
                        CREDS.c.state == StoredState.ACTIVE.value,
                        (CREDS.c.lease_owner.is_(None)) | (CREDS.c.lease_expires_at <= now),
                    )
                    .values(lease_owner=owner, lease_expires_at=now + policy.lease)
                ).rowcount
            if taken != 1:
                continue  # a peer took the lease or refreshed first: re-read
            try:
                return self._refresh_with_lease(profile.provider, account, owner)
            except _LeaseLostError:
                continue

    def _release(self, conn: Connection, cred_id: int, owner: str, **values: Any) -> None:
        conn.execute(
            update(CREDS)
            .where(CREDS.c.id == cred_id, CREDS.c.lease_owner == owner)
            .values(lease_owner=None, lease_expires_at=None, **values)
        )

    def _refresh_with_lease(self, provider: str, account: str, owner: str) -> dict[str, Any]:
        profile = oauth_profile(provider)
        # Re-read after acquiring: the material used is what is stored now.
        with self._tx() as conn:
            row = self._require(conn, provider, account)
            if row["lease_owner"] != owner:
                raise _LeaseLostError
            material = self._decrypt(conn, row)
        used = str(material["refresh_token"])
        _, token_url = profile.urls(account, self.rt.settings.oauth_server_url)
        params: dict[str, Any] = {"refresh_token": used, "client_id": material.get("client_id")}
        if material.get("client_secret"):
            params["client_secret"] = material["client_secret"]
        body = prepare_token_request("refresh_token", **params)
        try:
            payload = self._token_with_retries(token_url, body, rotating=profile.rotating_refresh)
        except _TokenFailedError as exc:
            return self._after_failure(provider, account, owner, used, exc.failure)
        except BaseException:
            with self._tx() as conn:
                self._release(conn, row["id"], owner)
            raise
        return self._swap(provider, account, owner, used, payload)

    def _after_failure(
        self, provider: str, account: str, owner: str, used: str, failure: TokenFailure
    ) -> dict[str, Any]:
        now = self.rt.clock()
        with self._tx() as conn:
            row = self._require(conn, provider, account, lock=True)
            current = self._decrypt(conn, row)
            if failure.error_class is ErrorClass.PERMANENT and current.get("refresh_token") != used:
                # invalid_grant for a token a peer already rotated: not our failure.
                self._release(conn, row["id"], owner)
                self._event(
                    conn,
                    provider,
                    account,
                    "rotated_by_peer",
                    {"error_class": ErrorClass.ROTATED_BY_PEER.value, "code": failure.code},
                )
                return current
            if failure.error_class is ErrorClass.TRANSIENT:
                self._release(
                    conn,
                    row["id"],
                    owner,
                    failure_count=row["failure_count"] + 1,
                    total_failures=row["total_failures"] + 1,
                    last_failure_at=now,
                    last_error_class=failure.error_class.value,
                    last_error_code=failure.code,
                    updated_at=now,
                )
                self._event(conn, provider, account, "refresh_failed", failure.to_dict())
            else:
                self._mark_permanent(conn, row, failure, owner)
        if failure.error_class is ErrorClass.TRANSIENT:
            raise RefreshTransientError(
                f"{provider}/{account}: token endpoint failing ({failure.code}) after "
                f"{self.policy.max_attempts} attempts; the credential is kept, try again later",
                details=failure.to_dict(),
            )
        raise CredentialNeedsReauthError(
            f"{provider}/{account}: refresh refused permanently ({failure.code}); dispatch paused: "
            f"run `autopack credentials connect {provider} --account {account}`",
            details=failure.to_dict(),
        )

    def _swap(
        self, provider: str, account: str, owner: str, used: str, payload: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Store the new tokens only if the stored refresh token is still ``used``."""
        now = self.rt.clock()
        with self._tx() as conn:
            row = self._require(conn, provider, account, lock=True)
            current = self._decrypt(conn, row)
            if current.get("refresh_token") != used:
                self._release(conn, row["id"], owner)
                self._event(conn, provider, account, "refresh_discarded", {"reason": "rotated"})
                return current
            rotated = bool(payload.get("refresh_token")) and payload["refresh_token"] != used
            material = dict(current)
            material["access_token"] = str(payload["access_token"])
            material["token_type"] = str(payload.get("token_type", "Bearer"))
            if rotated:
                material["refresh_token"] = str(payload["refresh_token"])
            box = self._active_box_in(conn)
            seconds = self._expiry_seconds(payload)
            values: dict[str, Any] = {
                "secret_ciphertext": self._encrypt(box, provider, account, row["kind"], material),
                "key_id": box.key_id,
                "version": row["version"] + 1,
                "expires_at": None if seconds is None else now + timedelta(seconds=seconds),
                "lease_owner": None,
                "lease_expires_at": None,
                "refresh_count": row["refresh_count"] + 1,
                "failure_count": 0,
                "last_success_at": now,
                "updated_at": now,
            }
            if rotated:
                values["refresh_issued_at"] = now
            if payload.get("scope"):
                values["scopes"] = scopes_json(str(payload["scope"]).split())
            conn.execute(update(CREDS).where(CREDS.c.id == row["id"]).values(**values))
            self._event(
                conn,
                provider,
                account,
                "refreshed",
                {"version": row["version"] + 1, "expires_in": seconds, "rotated": rotated},
            )
        return material

    def _active_box_in(self, conn: Connection) -> SecretBox:
        row = conn.execute(select(KEYS).where(KEYS.c.active_slot == 1)).mappings().first()
        if row is None:
            raise CredentialKeyError("the credential key ring is empty")
        return self._box_for(conn, row["key_id"])

    # -- key rotation ------------------------------------------------------------------

    def rotate_key(self, old_secret: str) -> dict[str, Any]:
        """Re-encrypt every credential under the configured key with a fresh salt.

        ``old_secret`` is the key the store was encrypted with (may equal the
        configured one: then only the salt and key id change).
        """
        old = old_secret.encode("utf-8")
        new = self._secret_bytes()
        now = self.rt.clock()
        salt = new_salt(self.rt.entropy)
        new_box = SecretBox.derive(new, bytes.fromhex(salt))
        with self._tx() as conn:
            keys = conn.execute(select(KEYS)).mappings().all()
            boxes: dict[str, SecretBox] = {}
            for key in keys:
                for candidate in (old, new):
                    box = SecretBox.derive(candidate, bytes.fromhex(key["salt"]))
                    if box.key_id == key["key_id"]:
                        boxes[key["key_id"]] = box
                        break
            query = select(CREDS).order_by(CREDS.c.id)
            if self._is_pg:
                query = query.with_for_update()
            rows = conn.execute(query).mappings().all()
            for row in rows:
                if row["key_id"] not in boxes:
                    raise CredentialKeyError(
                        f"neither the old key given nor AUTOPACK_SECRET_KEY opens "
                        f"{row['provider']}/{row['account']}: nothing was changed"
                    )
            conn.execute(
                update(KEYS).where(KEYS.c.active_slot == 1).values(active_slot=None, retired_at=now)
            )
            conn.execute(
                insert(KEYS).values(
                    key_id=new_box.key_id, salt=salt, active_slot=1, created_at=now, retired_at=None
                )
            )
            for row in rows:
                aad = associated_data(row["provider"], row["account"], row["kind"])
                plaintext = boxes[row["key_id"]].decrypt(row["secret_ciphertext"], aad)
                self._remember(json.loads(plaintext))
                conn.execute(
                    update(CREDS)
                    .where(CREDS.c.id == row["id"])
                    .values(
                        secret_ciphertext=new_box.encrypt(plaintext, aad, self.rt.entropy(12)),
                        key_id=new_box.key_id,
                        updated_at=now,
                    )
                )
            for row in rows:
                self._event(
                    conn, row["provider"], row["account"], "key_rotated", {"key_id": new_box.key_id}
                )
        with self._lock:
            self._boxes = {new_box.key_id: new_box}
        return {"reencrypted": len(rows), "key_id": new_box.key_id, "retired": len(keys)}

    # -- redaction --------------------------------------------------------------------

    def known_secrets(self) -> frozenset[str]:
        """Every secret the store holds (all rows), plus secrets seen by this process
        and secret settings. Feed it to the redaction library."""
        with self._read() as conn:
            for row in conn.execute(select(CREDS)).mappings().all():
                with contextlib.suppress(CredentialCorruptError, CredentialKeyError):
                    self._decrypt(conn, row)
        settings = self.rt.settings
        extra = [
            s.get_secret_value() for s in (settings.secret_key, settings.api_key) if s is not None
        ]
        extra += secret_settings(settings)
        with self._lock:
            return frozenset(self._seen | set(extra))

    def redactor(self, base: Redactor | None = None) -> Redactor:
        """A redactor that masks every known secret (plus the library's rules)."""
        chosen = base if base is not None else DEFAULT_REDACTOR
        return chosen.with_secrets(sorted(self.known_secrets()))


def runtime_redactor(runtime: Runtime) -> Redactor:
    """The redactor for this runtime: pattern rules plus every stored secret."""
    service = CredentialService(runtime)
    try:
        return service.redactor()
    finally:
        service.close()


def dispatch_block_reason(conn: Connection | Session, provider: str, account: str) -> str | None:
    """Why the executor must leave ``provider``/``account`` actions waiting, or None.

    Call it just before dispatch (in the claim transaction or right after).
    Providers without credentials in the store (the sandbox) are never blocked;
    a credential provider with no stored credential is blocked until connected.
    """
    if provider not in CREDENTIAL_PROVIDERS:
        return None
    row = conn.execute(
        select(CREDS.c.state, CREDS.c.paused, CREDS.c.pause_code).where(
            CREDS.c.provider == provider, CREDS.c.account == account
        )
    ).first()
    if row is None:
        if provider in OAUTH_PROFILES:
            how = f"autopack credentials connect {provider} --account {account}"
        else:
            how = f"autopack credentials add-key --provider {provider} --account {account}"
        return f"no credentials for {provider}/{account}: run `{how}`"
    return block_reason(
        provider=provider,
        account=account,
        state=StoredState(row.state),
        paused=bool(row.paused),
        code=row.pause_code,
    )


def dispatch_ready_clause(
    provider: ColumnElement[str], account: ColumnElement[str]
) -> ColumnElement[bool]:
    """SQL twin of :func:`dispatch_block_reason`: true when credentials allow dispatch.

    For the executor's claim query, so blocked actions stay waiting (not claimed,
    not failed) and are picked up once a reconnect resumes the account::

        query.where(dispatch_ready_clause(ACTIONS.c.provider, ACTIONS.c.account))
    """
    same = and_(CREDS.c.provider == provider, CREDS.c.account == account)
    blocked = exists().where(
        same, or_(CREDS.c.state != StoredState.ACTIVE.value, CREDS.c.paused.is_(True))
    )
    missing = and_(provider.in_(CREDENTIAL_PROVIDERS), ~exists().where(same))
    return and_(~blocked, ~missing)


def task_file(workspace: Path, provider: str, account: str) -> Path:
    """The Markdown re-auth task path for one provider account."""
    return reauth_task_paths(workspace, provider, account)[0]


__all__ = [
    "API_KEY_PROFILES",
    "CredentialHealth",
    "CredentialService",
    "PendingConnect",
    "RefreshPolicy",
    "dispatch_block_reason",
    "dispatch_ready_clause",
    "runtime_redactor",
    "task_file",
]
