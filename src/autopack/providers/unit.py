"""What a provider unit declares, and what its adapter factory receives.

A provider is one package, ``autopack.providers.<name>``, whose ``UNIT`` is a
:class:`ProviderUnit`: its adapter factory (or ``None``: no adapter yet), its
credential profile (or ``None``: it needs no stored credential), its action
catalogue with categories, its redaction rules and the settings it reads. Every
field is required, so a unit cannot forget a part; the registry
(``autopack.providers.registry.PROVIDERS``) lists the units.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import httpx

from autopack.domain.credentials import CredentialProfile
from autopack.domain.ledger import ActionCategory
from autopack.domain.packets import PacketProfile
from autopack.domain.providers import ProviderAdapter
from autopack.domain.redaction import PatternRule
from autopack.settings import Settings


@dataclass(frozen=True, slots=True)
class ApiKeyCredential:
    """A stored key pair and the API host its environment selects."""

    key_id: str = field(repr=False)
    secret_key: str = field(repr=False)
    host: str


class CredentialAccessor(Protocol):
    """One provider's stored credentials, as its adapter asks for them.

    ``access_token`` returns a token that is valid now (refreshed first when it
    is about to expire, single-flight across processes); both refuse an account
    that needs re-authorization.
    """

    def access_token(self, account: str) -> str: ...

    def api_key(self, account: str) -> ApiKeyCredential: ...


@dataclass(frozen=True, slots=True)
class ProviderContext:
    """Everything an adapter factory may use: seams, never globals."""

    provider: str
    settings: Settings
    credentials: CredentialAccessor
    # The HTTP seam: None means real network I/O; tests pass their own transport.
    transport: httpx.BaseTransport | None
    clock: Callable[[], datetime]


AdapterFactory = Callable[[ProviderContext], ProviderAdapter]


@dataclass(frozen=True, slots=True)
class ActionWire:
    """How one action meets the provider's wire, as ``autopack providers list`` shows it."""

    # How a resend is kept from making a second effect (a key the provider
    # honours, an upsert identifier, or none: a marker the lookup finds).
    idempotency: str
    # How reconciliation asks the provider whether the effect exists.
    lookup: str
    # Only lowers risk (cancel orders, close positions, suspend trading): a halt
    # does not hold it, so the kill switch works while everything else is halted.
    protective: bool = False


@dataclass(frozen=True, slots=True)
class ProviderUnit:
    """One provider, declared whole. See the module docstring."""

    name: str
    title: str
    # None: the provider is known (credentials, categories, redaction) but has
    # no adapter yet, so nothing can be proposed for it.
    adapter_factory: AdapterFactory | None
    # None: the provider needs no stored credential (the sandbox).
    credential_profile: CredentialProfile | None
    # action -> category; the registry merges every unit's catalogue.
    actions: Mapping[str, ActionCategory]
    # Token formats of this provider, masked everywhere (may be empty).
    redaction_rules: tuple[PatternRule, ...]
    # Names of the ``Settings`` fields this provider reads (may be empty).
    settings: tuple[str, ...]
    # action -> its idempotency mode and lookup strategy; every action of a unit
    # with an adapter has one (a unit without an adapter may leave it empty).
    wire: Mapping[str, ActionWire]
    # The publish/list action that takes a publish packet as its payload, and
    # what the provider requires of one (None: no action takes packets).
    packet: PacketProfile | None
    # The provider's public terms and policy pages that the policy monitor watches
    # by default. Non-empty puts the provider under the policy gate: its publish
    # and list actions wait for fresh, acknowledged snapshots. Empty (the default)
    # means no policy monitor (the sandbox, the broker).
    policy_pages: tuple[str, ...]

    def __post_init__(self) -> None:
        profile = self.credential_profile
        if profile is not None and profile.provider != self.name:
            raise ValueError(f"provider {self.name}: its profile names {profile.provider}")
        if not self.actions:
            raise ValueError(f"provider {self.name}: the action catalogue is empty")
        for action, category in self.actions.items():
            if not isinstance(category, ActionCategory):
                raise ValueError(f"provider {self.name}: {action} has no valid category")
        if self.adapter_factory is not None and set(self.wire) != set(self.actions):
            raise ValueError(f"provider {self.name}: every action needs its wire description")
        if not set(self.wire) <= set(self.actions):
            raise ValueError(f"provider {self.name}: wire names an action it does not declare")
        if self.packet is not None and self.packet.action not in self.actions:
            raise ValueError(f"provider {self.name}: its packet action is not declared")
        missing = [s for s in self.settings if s not in Settings.model_fields]
        if missing:
            raise ValueError(f"provider {self.name}: unknown settings {', '.join(missing)}")
