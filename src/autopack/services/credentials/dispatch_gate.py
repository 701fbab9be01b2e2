"""The credentials dispatch gate: may actions of this provider account go now?

Kept as it was while the gate pipeline (``services/gates.py``) replaces it:
``dispatch_block_reason`` explains, ``dispatch_ready_clause`` is its SQL twin
for the claim query.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Connection, and_, exists, or_, select
from sqlalchemy.orm import Session

from autopack.domain.credentials import StoredState, block_reason
from autopack.providers.registry import CREDENTIAL_PROVIDERS, OAUTH_PROFILES
from autopack.services.credentials.store import CREDS


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
