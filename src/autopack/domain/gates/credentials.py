"""Credentials gate: the provider account's credential is stored, active and not paused."""

from __future__ import annotations

from typing import Final

from autopack.domain.credentials import StoredState, block_reason
from autopack.domain.error_codes import ErrorCode
from autopack.domain.gates import CredentialRequirement, GateFacts, GateResult, allow, hold

NAME: Final = "credentials"
# An active credential holds only when paused; the other states always hold.
HOLD_CODES: Final = {
    StoredState.ACTIVE: ErrorCode.CREDENTIALS_PAUSED,
    StoredState.NEEDS_REAUTH: ErrorCode.CREDENTIALS_NEEDS_REAUTH,
    StoredState.INVALID: ErrorCode.CREDENTIALS_INVALID,
}


class CredentialsGate:
    name = NAME

    def check(self, facts: GateFacts) -> GateResult:
        cred = facts.credential
        provider, account = facts.action.provider, facts.action.account
        if cred.requirement is CredentialRequirement.NONE:
            return allow(NAME)
        if not cred.stored:
            if cred.requirement is CredentialRequirement.OAUTH:
                how = f"autopack credentials connect {provider} --account {account}"
            else:
                how = f"autopack credentials add-key --provider {provider} --account {account}"
            return hold(
                NAME,
                ErrorCode.CREDENTIALS_MISSING,
                f"no credentials for {provider}/{account}: run `{how}`",
            )
        state = StoredState(cred.state) if cred.state is not None else StoredState.ACTIVE
        reason = block_reason(
            provider=provider,
            account=account,
            state=state,
            paused=cred.paused,
            code=cred.pause_code,
        )
        if reason is None:
            return allow(NAME)
        return hold(NAME, HOLD_CODES[state], reason)
