"""Access and refresh: a usable token or key pair for dispatch, refreshed with a lease.

Refresh is single-flight across threads, processes and machines, through the
database only:

1. read the row; if the access token is outside the refresh margin, use it;
2. if another caller holds the refresh lease, wait and re-read (a changed
   ``version`` means a peer refreshed: use its token);
3. take the lease with a compare-and-set UPDATE on (version, lease free);
4. re-read the secret after acquiring, call the token endpoint (bounded
   attempts, exponential backoff, only transient failures retried);
5. swap in the new tokens only if the stored refresh token is still the one
   used (row locked: ``FOR UPDATE`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite),
   so a peer's rotation is never overwritten.

Permanent failures (revoked, ``invalid_grant`` with the current token, a lost
response from a provider that rotates refresh tokens) pause dispatch for that
provider account and write a deterministic re-auth task; a successful reconnect
resumes it. Transient failures never mark anything revoked.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from authlib.oauth2.rfc6749.parameters import prepare_token_request
from sqlalchemy import Connection, update
from sqlalchemy.engine import RowMapping

from autopack.domain.credentials import (
    CredentialNeedsReauthError,
    ErrorClass,
    RefreshInProgressError,
    RefreshTransientError,
    StoredState,
    TokenFailure,
    is_expired,
    needs_refresh,
    scopes_json,
    validate_account,
)
from autopack.providers.registry import api_key_profile, oauth_profile
from autopack.services.credentials.reauth import ReauthTasks
from autopack.services.credentials.store import CREDS, CredentialStore, Row, check_usable
from autopack.services.credentials.tokens import (
    RefreshPolicy,
    Sleep,
    TokenEndpoint,
    TokenFailedError,
    expiry_seconds,
)


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


class Refresher:
    """Tokens and key pairs for dispatch, over ``store``; refreshes through ``endpoint``."""

    def __init__(
        self,
        store: CredentialStore,
        endpoint: TokenEndpoint,
        tasks: ReauthTasks,
        *,
        policy: RefreshPolicy,
        sleep: Sleep = time.sleep,
    ) -> None:
        self.store = store
        self.rt = store.rt
        self.endpoint = endpoint
        self.tasks = tasks
        self.policy = policy
        self._sleep = sleep
        self._lock = threading.Lock()
        self._flights: dict[tuple[str, str, bool], _Flight] = {}
        self._jitter = random.Random(int.from_bytes(self.rt.entropy(8), "big"))  # noqa: S311

    def api_key(self, provider: str, account: str) -> tuple[str, str, str]:
        """(key id, secret key, API host) for dispatch; refuses accounts that need
        re-authorization (an operator pause is held earlier, by the claim query)."""
        profile = api_key_profile(provider)
        with self.store.read() as conn:
            row = self.store.require(conn, provider, validate_account(account))
            check_usable(row)
            material = self.store.decrypt(conn, row)
        return material["key_id"], material["secret_key"], profile.hosts[row["environment"]]

    def access_token(self, provider: str, account: str) -> str:
        """A valid access token, refreshed first when inside the margin (single-flight)."""
        material = self.obtain(provider, account, force=False)
        return str(material["access_token"])

    def _read_material(self, provider: str, account: str) -> tuple[RowMapping, dict[str, Any]]:
        with self.store.read() as conn:
            row = self.store.require(conn, provider, account)
            check_usable(row)
            return row, self.store.decrypt(conn, row)

    def obtain(self, provider: str, account: str, *, force: bool) -> dict[str, Any]:
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
                    with self.store.tx() as conn:
                        fresh = self.store.require(conn, provider, account, lock=True)
                        failure = TokenFailure(ErrorClass.PERMANENT, "no_refresh_token")
                        self.mark_permanent(conn, fresh, failure, None)
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
            with self.store.tx() as conn:
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
        with self.store.tx() as conn:
            row = self.store.require(conn, provider, account)
            if row["lease_owner"] != owner:
                raise _LeaseLostError
            material = self.store.decrypt(conn, row)
        used = str(material["refresh_token"])
        _, token_url = profile.urls(account, self.rt.settings.oauth_server_url)
        params: dict[str, Any] = {"refresh_token": used, "client_id": material.get("client_id")}
        if material.get("client_secret"):
            params["client_secret"] = material["client_secret"]
        body = prepare_token_request("refresh_token", **params)
        try:
            payload = self.endpoint.with_retries(token_url, body, rotating=profile.rotating_refresh)
        except TokenFailedError as exc:
            return self.after_failure(provider, account, owner, used, exc.failure)
        except BaseException:
            with self.store.tx() as conn:
                self._release(conn, row["id"], owner)
            raise
        return self._swap(provider, account, owner, used, payload)

    def after_failure(
        self, provider: str, account: str, owner: str, used: str, failure: TokenFailure
    ) -> dict[str, Any]:
        now = self.rt.clock()
        with self.store.tx() as conn:
            row = self.store.require(conn, provider, account, lock=True)
            current = self.store.decrypt(conn, row)
            if failure.error_class is ErrorClass.PERMANENT and current.get("refresh_token") != used:
                # invalid_grant for a token a peer already rotated: not our failure.
                self._release(conn, row["id"], owner)
                self.store.event(
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
                self.store.event(conn, provider, account, "refresh_failed", failure.to_dict())
            else:
                self.mark_permanent(conn, row, failure, owner)
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
        with self.store.tx() as conn:
            row = self.store.require(conn, provider, account, lock=True)
            current = self.store.decrypt(conn, row)
            if current.get("refresh_token") != used:
                self._release(conn, row["id"], owner)
                self.store.event(
                    conn, provider, account, "refresh_discarded", {"reason": "rotated"}
                )
                return current
            rotated = bool(payload.get("refresh_token")) and payload["refresh_token"] != used
            material = dict(current)
            material["access_token"] = str(payload["access_token"])
            material["token_type"] = str(payload.get("token_type", "Bearer"))
            if rotated:
                material["refresh_token"] = str(payload["refresh_token"])
            box = self.store.active_box_in(conn)
            seconds = expiry_seconds(payload)
            values: dict[str, Any] = {
                "secret_ciphertext": self.store.encrypt(
                    box, provider, account, row["kind"], material
                ),
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
            self.store.event(
                conn,
                provider,
                account,
                "refreshed",
                {"version": row["version"] + 1, "expires_in": seconds, "rotated": rotated},
            )
        return material

    def mark_permanent(
        self, conn: Connection, row: Row, failure: TokenFailure, owner: str | None
    ) -> None:
        now = self.rt.clock()
        task_path = self.tasks.write(row, failure)
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
        self.store.event(
            conn,
            row["provider"],
            row["account"],
            "paused",
            {**failure.to_dict(), "reauth_task": task_path},
        )

    # -- token endpoint -------------------------------------------------------------
