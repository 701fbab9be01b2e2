"""The one list of provider units, and every lookup derived from it.

Adding a provider is one package under ``autopack.providers`` (see
``autopack.providers.unit``) plus its ``UNIT`` in :data:`PROVIDERS`. The
credential service's profiles, the action categories, the redaction rules, the
settings that hold provider secrets and the adapter factories are all found
here, so nothing else names a provider.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from pydantic import SecretStr

from autopack.domain.credentials import (
    ApiKeyProfile,
    CredentialProfile,
    OAuthProfile,
    UnknownCredentialProviderError,
)
from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import InvalidInputError
from autopack.domain.ledger import ActionCategory, Catalogue
from autopack.domain.ledger import action_category as _categorize
from autopack.domain.redaction import PatternRule, Redactor, compose_rules
from autopack.providers import alpaca, etsy, sandbox, shopify, youtube
from autopack.providers.unit import ProviderUnit
from autopack.settings import Settings

PROVIDERS: Final[tuple[ProviderUnit, ...]] = (
    sandbox.UNIT,
    youtube.UNIT,
    etsy.UNIT,
    shopify.UNIT,
    alpaca.UNIT,
)


def _by_name(units: tuple[ProviderUnit, ...]) -> dict[str, ProviderUnit]:
    found: dict[str, ProviderUnit] = {}
    for unit in units:
        if unit.name in found:
            raise ValueError(f"provider {unit.name} is registered twice")
        found[unit.name] = unit
    return found


UNITS: Final[Mapping[str, ProviderUnit]] = _by_name(PROVIDERS)

# -- credential profiles -------------------------------------------------------------

OAUTH_PROFILES: Final[Mapping[str, OAuthProfile]] = {
    u.name: u.credential_profile
    for u in PROVIDERS
    if isinstance(u.credential_profile, OAuthProfile)
}
API_KEY_PROFILES: Final[Mapping[str, ApiKeyProfile]] = {
    u.name: u.credential_profile
    for u in PROVIDERS
    if isinstance(u.credential_profile, ApiKeyProfile)
}
# Providers whose accounts need a stored credential before anything is dispatched.
CREDENTIAL_PROVIDERS: Final[tuple[str, ...]] = tuple(sorted({*OAUTH_PROFILES, *API_KEY_PROFILES}))


def validate_credential_provider(provider: str) -> str:
    if provider not in OAUTH_PROFILES and provider not in API_KEY_PROFILES:
        raise UnknownCredentialProviderError(
            f"unknown credential provider {provider[:64]!r}: "
            f"known are {', '.join(CREDENTIAL_PROVIDERS)}",
            details={"known": list(CREDENTIAL_PROVIDERS)},
        )
    return provider


def credential_profile(provider: str) -> CredentialProfile | None:
    """The profile of ``provider``, or None (no credential, or not registered)."""
    unit = UNITS.get(provider)
    return None if unit is None else unit.credential_profile


def oauth_profile(provider: str) -> OAuthProfile:
    validate_credential_provider(provider)
    profile = OAUTH_PROFILES.get(provider)
    if profile is None:
        raise InvalidInputError(
            f"{provider} uses API keys, not OAuth: use `autopack credentials add-key`",
            code=ErrorCode.NOT_AN_OAUTH_PROVIDER,
        )
    return profile


def api_key_profile(provider: str) -> ApiKeyProfile:
    validate_credential_provider(provider)
    profile = API_KEY_PROFILES.get(provider)
    if profile is None:
        raise InvalidInputError(
            f"{provider} uses OAuth: use `autopack credentials connect {provider}`",
            code=ErrorCode.NOT_AN_API_KEY_PROVIDER,
        )
    return profile


# -- action categories ---------------------------------------------------------------

ACTION_CATALOGUE: Final[Catalogue] = {
    (u.name, action): category for u in PROVIDERS for action, category in u.actions.items()
}


def action_category(provider: str, action: str) -> ActionCategory:
    """The declared category, else the word rules' (which err towards sensitive)."""
    return _categorize(provider, action, ACTION_CATALOGUE)


# Actions that only lower risk: a halt does not hold them (see ``ActionWire``).
PROTECTIVE_ACTIONS: Final[frozenset[tuple[str, str]]] = frozenset(
    (u.name, action) for u in PROVIDERS for action, wire in u.wire.items() if wire.protective
)


# -- redaction -------------------------------------------------------------------------

REDACTION_RULES: Final[tuple[PatternRule, ...]] = compose_rules(
    rule for u in PROVIDERS for rule in u.redaction_rules
)
DEFAULT_REDACTOR: Final = Redactor(REDACTION_RULES)
"""Pattern and field rules, no known secrets: for code that has no store."""


# -- settings --------------------------------------------------------------------------


def secret_settings(settings: Settings) -> list[str]:
    """Values of the secret settings the providers read (client secrets): masked too."""
    values: list[str] = []
    for unit in PROVIDERS:
        for name in unit.settings:
            value = getattr(settings, name)
            if isinstance(value, SecretStr):
                values.append(value.get_secret_value())
    return values


# -- policy monitor ----------------------------------------------------------------------

# Providers under the policy monitor, with the pages watched by default: their
# publish and list actions wait for fresh, acknowledged policy snapshots.
POLICY_PAGES: Final[Mapping[str, tuple[str, ...]]] = {
    u.name: u.policy_pages for u in PROVIDERS if u.policy_pages
}
