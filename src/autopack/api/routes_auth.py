"""Credential health, refresh and events over HTTP. Responses never hold secrets."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from autopack.api.deps import CredentialServiceDep, requires
from autopack.api.schemas import (
    CredentialEventList,
    CredentialHealthAll,
    CredentialHealthBody,
    CredentialHealthOfProvider,
    error_responses,
)
from autopack.domain.credentials import CredentialNotFoundError, CredentialStatus
from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import InvalidInputError
from autopack.domain.principals import Permission
from autopack.providers.registry import validate_credential_provider as validate_provider
from autopack.services.credentials import (
    DEFAULT_EVENTS_LIMIT,
    MAX_EVENTS_LIMIT,
    CredentialHealth,
)

# Credential health and refresh are for admins (never a secret, but account state).
router = APIRouter(
    prefix="/api/auth/oauth", dependencies=[Depends(requires(Permission.CREDENTIALS))]
)

# Worst first: the overall status of a group is its worst member's.
_SEVERITY = [
    CredentialStatus.INVALID,
    CredentialStatus.NEEDS_REAUTH,
    CredentialStatus.PAUSED,
    CredentialStatus.EXPIRED,
    CredentialStatus.REFRESHING,
    CredentialStatus.PRESENT,
]


def overall(items: list[CredentialHealth]) -> str:
    if not items:
        return CredentialStatus.MISSING.value
    return min((h.status for h in items), key=_SEVERITY.index).value


@router.get(
    "/health",
    response_model=CredentialHealthAll,
    responses=error_responses(
        ErrorCode.FORBIDDEN,
    ),
)
def health_all(credentials: CredentialServiceDep) -> dict[str, Any]:
    items = credentials.health()
    providers: dict[str, list[CredentialHealth]] = {}
    for item in items:
        providers.setdefault(item.provider, []).append(item)
    return {
        "status": overall(items),
        "providers": {name: overall(group) for name, group in sorted(providers.items())},
        "credentials": [h.to_dict() for h in items],
    }


@router.get(
    "/health/{provider}",
    response_model=CredentialHealthOfProvider,
    responses=error_responses(
        ErrorCode.FORBIDDEN, ErrorCode.UNKNOWN_CREDENTIAL_PROVIDER, ErrorCode.INVALID_IDENTIFIER
    ),
)
def health_provider(
    provider: str, credentials: CredentialServiceDep, account: str | None = None
) -> dict[str, Any]:
    items = credentials.health(validate_provider(provider), account)
    return {
        "provider": provider,
        "status": overall(items),
        "credentials": [h.to_dict() for h in items],
    }


@router.post(
    "/refresh/{provider}",
    response_model=CredentialHealthBody,
    responses=error_responses(
        ErrorCode.FORBIDDEN,
        ErrorCode.UNKNOWN_CREDENTIAL_PROVIDER,
        ErrorCode.NOT_AN_OAUTH_PROVIDER,
        ErrorCode.ACCOUNT_REQUIRED,
        ErrorCode.INVALID_IDENTIFIER,
        ErrorCode.CREDENTIAL_NOT_FOUND,
        ErrorCode.CREDENTIAL_NEEDS_REAUTH,
        ErrorCode.CREDENTIAL_KEY_MISMATCH,
        ErrorCode.CREDENTIAL_UNDECRYPTABLE,
        ErrorCode.REFRESH_TRANSIENT,
        ErrorCode.REFRESH_IN_PROGRESS,
    ),
)
def refresh(
    provider: str, credentials: CredentialServiceDep, account: str | None = None
) -> dict[str, Any]:
    """Refresh now (joins a refresh already running). ``account`` may be left out
    when the provider has exactly one stored account."""
    validate_provider(provider)
    if account is None:
        accounts = [h.account for h in credentials.health(provider)]
        if not accounts:
            raise CredentialNotFoundError(f"no credentials for {provider}")
        if len(accounts) > 1:
            raise InvalidInputError(
                f"{provider} has {len(accounts)} accounts: pass ?account=",
                code=ErrorCode.ACCOUNT_REQUIRED,
                details={"accounts": accounts},
            )
        account = accounts[0]
    return credentials.refresh(provider, account).to_dict()


@router.get(
    "/events",
    response_model=CredentialEventList,
    responses=error_responses(
        ErrorCode.FORBIDDEN,
        ErrorCode.UNKNOWN_CREDENTIAL_PROVIDER,
        ErrorCode.INVALID_IDENTIFIER,
        validated=True,
    ),
)
def events(
    credentials: CredentialServiceDep,
    provider: str | None = None,
    account: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_EVENTS_LIMIT)] = DEFAULT_EVENTS_LIMIT,
) -> dict[str, Any]:
    return {"events": credentials.events(provider, account, limit)}
