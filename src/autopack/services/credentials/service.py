"""``CredentialService``: every credential operation, composed from one part per job.

    store      CredentialStore   rows, encryption, key ring and key rotation
    tasks      ReauthTasks       the re-auth task files
    endpoint   TokenEndpoint     token requests with bounded retries
    connector  Connector         OAuth connect (PKCE) and API key pairs
    refresher  Refresher         tokens and key pairs for dispatch, refresh with leases
    reader     HealthReader      health and events

The service holds no logic of its own: each method hands over to the part that
owns the job. Parts receive the parts they use (composition, no base class).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import httpx
from sqlalchemy.exc import DBAPIError

from autopack.domain.redaction import Redactor
from autopack.providers.registry import DEFAULT_REDACTOR
from autopack.services.context import Runtime
from autopack.services.credentials.connect import Connector, PendingConnect
from autopack.services.credentials.health import (
    DEFAULT_EVENTS_LIMIT,
    CredentialHealth,
    HealthReader,
    health_of,
)
from autopack.services.credentials.reauth import ReauthTasks
from autopack.services.credentials.refresh import Refresher
from autopack.services.credentials.store import CredentialStore
from autopack.services.credentials.tokens import RefreshPolicy, Sleep, TokenEndpoint


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
        self.tasks = ReauthTasks(runtime)
        self.store = CredentialStore(runtime, self.tasks, actor=actor)
        self.endpoint = TokenEndpoint(self.policy, transport=transport, sleep=sleep)
        self.connector = Connector(self.store, self.endpoint)
        self.refresher = Refresher(
            self.store, self.endpoint, self.tasks, policy=self.policy, sleep=sleep
        )
        self.reader = HealthReader(self.store)

    def close(self) -> None:
        self.endpoint.close()

    def __enter__(self) -> CredentialService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- health and events ---------------------------------------------------------

    def health(
        self, provider: str | None = None, account: str | None = None
    ) -> list[CredentialHealth]:
        """Health of every stored credential (optionally one provider / account)."""
        return self.reader.health(provider, account)

    def health_one(self, provider: str, account: str) -> CredentialHealth:
        return self.reader.health_one(provider, account)

    def events(
        self,
        provider: str | None = None,
        account: str | None = None,
        limit: int = DEFAULT_EVENTS_LIMIT,
    ) -> list[dict[str, Any]]:
        """Newest first."""
        return self.reader.events(provider, account, limit)

    # -- connect, remove, pause ------------------------------------------------------

    def add_api_key(
        self, provider: str, account: str, *, key_id: str, secret: str, environment: str
    ) -> CredentialHealth:
        return self.connector.add_api_key(
            provider, account, key_id=key_id, secret=secret, environment=environment
        )

    def begin_connect(
        self, provider: str, account: str, redirect_uri: str, scopes: list[str] | None = None
    ) -> PendingConnect:
        """Authorization URL with PKCE (S256) and a fresh state, for ``redirect_uri``."""
        return self.connector.begin_connect(provider, account, redirect_uri, scopes)

    def complete_connect(self, pending: PendingConnect, callback_url: str) -> CredentialHealth:
        """Check the callback (state, error), exchange the code, store, resume."""
        return self.connector.complete_connect(pending, callback_url)

    def remove(self, provider: str, account: str) -> None:
        self.store.remove(provider, account)

    def set_paused(self, provider: str, account: str, *, paused: bool) -> CredentialHealth:
        """Operator pause/resume of dispatch for one account (status ``paused``).

        Resuming an account that needs re-authorization is refused: reconnect it.
        """
        fresh, now, decryptable = self.store.set_paused(provider, account, paused=paused)
        return health_of(fresh, now, decryptable=decryptable)

    # -- dispatch credentials and refresh --------------------------------------------

    def api_key(self, provider: str, account: str) -> tuple[str, str, str]:
        """(key id, secret key, API host) for dispatch; refuses accounts that need
        re-authorization (an operator pause is held earlier, by the claim query)."""
        return self.refresher.api_key(provider, account)

    def access_token(self, provider: str, account: str) -> str:
        """A valid access token, refreshed first when inside the margin (single-flight)."""
        return self.refresher.access_token(provider, account)

    def refresh(self, provider: str, account: str) -> CredentialHealth:
        """Refresh now (single-flight: joins a peer's refresh if one is running)."""
        self.refresher.obtain(provider, account, force=True)
        return self.health_one(provider, account)

    # -- key rotation and redaction ----------------------------------------------------

    def rotate_key(self, old_secret: str) -> dict[str, Any]:
        """Re-encrypt every credential under the configured key with a fresh salt."""
        return self.store.rotate_key(old_secret)

    def known_secrets(self) -> frozenset[str]:
        """Every secret the store holds (all rows), plus secrets seen by this process
        and secret settings. Feed it to the redaction library."""
        return self.store.known_secrets()

    def redactor(self, base: Redactor | None = None) -> Redactor:
        """A redactor that masks every known secret (plus the library's rules)."""
        chosen = base if base is not None else DEFAULT_REDACTOR
        return chosen.with_secrets(sorted(self.known_secrets()))


def stored_secrets(runtime: Runtime) -> Iterable[str]:
    """Every secret ``runtime``'s credential store holds, plus the secret settings:
    the source the runtime's redactor loads once (see ``services.runtime``)."""
    with CredentialService(runtime) as service:
        return service.known_secrets()


def runtime_redactor(runtime: Runtime) -> Redactor:
    """The redactor for this runtime: pattern rules plus every stored secret."""
    service = CredentialService(runtime)
    try:
        return service.redactor()
    finally:
        service.close()


_FINGERPRINT_SQL = (
    "SELECT count(*), coalesce(sum(version), 0), coalesce(max(id), 0) FROM credentials"
)


def secrets_fingerprint(runtime: Runtime, db: Any = None) -> tuple[int, int, int]:
    """Changes whenever secret material is stored, replaced or removed in the store
    (any process): rows, the sum of their versions (bumped on every change of a
    secret) and the newest id. One cheap statement, read before redacting what a
    write will hold, so a secret stored by another process is masked before this
    one's next write. With ``db`` (a driver connection with no transaction open)
    it is read there, as its own autocommit statement, instead of a pool checkout."""
    if db is not None:
        return _read_fingerprint(runtime, db)
    fairy = runtime.engine.raw_connection()
    try:
        return _read_fingerprint(runtime, fairy.dbapi_connection)
    finally:
        fairy.close()


def _read_fingerprint(runtime: Runtime, db: Any) -> tuple[int, int, int]:
    postgres = runtime.engine.dialect.name == "postgresql"
    dbapi_error = runtime.engine.dialect.loaded_dbapi.Error
    if postgres:
        db.autocommit = True  # one round trip, no transaction left open
    try:
        cursor = db.cursor()
        try:
            cursor.execute(_FINGERPRINT_SQL)
            count, versions, newest = cursor.fetchone()
        except dbapi_error as exc:
            # The same error SQLAlchemy would raise (callers catch SQLAlchemyError).
            raise DBAPIError.instance(_FINGERPRINT_SQL, None, exc, dbapi_error) from exc
        finally:
            cursor.close()
    finally:
        if postgres:
            db.autocommit = False
    return int(count), int(versions), int(newest)
