"""Halt scopes, pure: which actions an engaged halt holds.

A scope is written ``all``, ``provider:P`` or ``account:P/A``. An engaged halt
holds every approved action it covers (they wait, they never fail) until a
person releases it; then each goes exactly once, as the ledger guarantees.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from autopack.domain.canonical import check_unicode
from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import InvalidInputError
from autopack.domain.ledger import validate_name

SCOPE_ALL: Final = "all"
MAX_REASON: Final = 500


@dataclass(frozen=True, slots=True)
class HaltScope:
    """``provider`` None covers every provider; ``account`` None every account of it."""

    provider: str | None = None
    account: str | None = None

    @property
    def text(self) -> str:
        if self.provider is None:
            return SCOPE_ALL
        if self.account is None:
            return f"provider:{self.provider}"
        return f"account:{self.provider}/{self.account}"


def parse_scope(text: str) -> HaltScope:
    """``all`` | ``provider:P`` | ``account:P/A``; anything else is ``invalid_scope``."""
    usage = "a halt scope is 'all', 'provider:PROVIDER' or 'account:PROVIDER/ACCOUNT'"
    kind, sep, rest = text.partition(":")
    try:
        if text == SCOPE_ALL:
            return HaltScope()
        if kind == "provider" and sep and "/" not in rest:
            return HaltScope(validate_name("provider", rest))
        if kind == "account" and sep:
            provider, slash, account = rest.partition("/")
            if slash:
                return HaltScope(
                    validate_name("provider", provider), validate_name("account", account)
                )
    except InvalidInputError as exc:
        raise InvalidInputError(f"{exc.message} ({usage})", code=ErrorCode.INVALID_SCOPE) from exc
    raise InvalidInputError(
        f"invalid halt scope {text[:80]!r}: {usage}", code=ErrorCode.INVALID_SCOPE
    )


def validate_reason(reason: str) -> str:
    """A halt always says why: 1 to MAX_REASON characters, not only blanks, and text
    that can be stored (no lone surrogates)."""
    check_unicode(reason, "reason")
    if not reason.strip() or len(reason) > MAX_REASON:
        raise InvalidInputError(
            f"a halt needs a reason of 1 to {MAX_REASON} characters", code=ErrorCode.INVALID_REASON
        )
    return reason
