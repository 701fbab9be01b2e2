"""Credential health: what a person sees for each provider account. Never secret.

One job: derive the status (``domain.credentials.derive_status``), expiry,
counters and provider warnings from stored rows, and list the credential events.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import select

from autopack.domain.canonical import format_utc
from autopack.domain.credentials import (
    CredentialCorruptError,
    CredentialKeyError,
    CredentialNotFoundError,
    CredentialStatus,
    StoredState,
    derive_status,
    expires_in_seconds,
    profile_warnings,
    validate_account,
)
from autopack.providers.registry import credential_profile, validate_credential_provider
from autopack.services.credentials.store import CREDS, EVENTS, CredentialStore, Row

DEFAULT_EVENTS_LIMIT: Final = 100
MAX_EVENTS_LIMIT: Final = 1000


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


def health_of(row: Row, now: datetime, *, decryptable: bool) -> CredentialHealth:
    """The health of one stored row (``decryptable``: its secret opens with the key)."""
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


class HealthReader:
    """Health and events of the accounts in ``store``."""

    def __init__(self, store: CredentialStore) -> None:
        self.store = store

    def health(
        self, provider: str | None = None, account: str | None = None
    ) -> list[CredentialHealth]:
        """Health of every stored credential (optionally one provider / account)."""
        query = select(CREDS).order_by(CREDS.c.provider, CREDS.c.account)
        if provider is not None:
            query = query.where(CREDS.c.provider == validate_credential_provider(provider))
        if account is not None:
            query = query.where(CREDS.c.account == validate_account(account))
        now = self.store.rt.clock()
        out: list[CredentialHealth] = []
        with self.store.read() as conn:
            for row in conn.execute(query).mappings().all():
                try:
                    self.store.decrypt(conn, row)
                    decryptable = True
                except (CredentialCorruptError, CredentialKeyError):
                    decryptable = False
                out.append(health_of(row, now, decryptable=decryptable))
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
        with self.store.read() as conn:
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
