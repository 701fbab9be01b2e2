"""What every provider offers, as ``autopack providers list`` shows it.

Derived from the provider units alone (no database, no network): each
provider's title, whether an adapter exists (so actions can be proposed), how
its accounts authenticate, and per action its category, idempotency mode and
lookup strategy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from autopack.domain.credentials import ApiKeyProfile, OAuthProfile
from autopack.providers.registry import PROVIDERS, action_category
from autopack.providers.unit import ProviderUnit


def _credential_kind(unit: ProviderUnit) -> str:
    profile = unit.credential_profile
    if isinstance(profile, OAuthProfile):
        return "oauth"
    if isinstance(profile, ApiKeyProfile):
        return "api_key"
    return "none"


def provider_catalogue(units: Sequence[ProviderUnit] = PROVIDERS) -> list[dict[str, Any]]:
    """One entry per provider, sorted by name; actions sorted by name."""
    catalogue: list[dict[str, Any]] = []
    for unit in sorted(units, key=lambda u: u.name):
        actions = []
        for action in sorted(unit.actions):
            wire = unit.wire.get(action)
            actions.append(
                {
                    "action": action,
                    "category": action_category(unit.name, action).value,
                    "idempotency": None if wire is None else wire.idempotency,
                    "lookup": None if wire is None else wire.lookup,
                }
            )
        catalogue.append(
            {
                "provider": unit.name,
                "title": unit.title,
                "dispatchable": unit.adapter_factory is not None,
                "credentials": _credential_kind(unit),
                "actions": actions,
            }
        )
    return catalogue
