"""The provider registry service: provider name -> adapter, built on first use.

Adapters are built from the provider units of ``autopack.providers.registry``;
each factory receives a :class:`~autopack.providers.unit.ProviderContext`
(settings, a credential accessor, the HTTP transport seam and the clock) built
here. The ledger reaches adapters only through a registry passed in, so tests
and the benchmark add their own in-process adapters instead of patching globals.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import httpx

from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import ConfigurationError, InvalidInputError
from autopack.domain.providers import ProviderAdapter
from autopack.providers.registry import PROVIDERS, api_key_profile, oauth_profile
from autopack.providers.unit import (
    ApiKeyCredential,
    CredentialAccessor,
    ProviderContext,
    ProviderUnit,
)
from autopack.services.context import Clock, Runtime, utc_now
from autopack.services.packet_dispatch import PacketAdapter
from autopack.settings import Settings

if TYPE_CHECKING:
    from autopack.services.credentials import CredentialService


class UnknownProviderError(InvalidInputError):
    default_code = ErrorCode.UNKNOWN_PROVIDER


class ProviderNotAvailableError(InvalidInputError):
    """A registered provider without an adapter yet: nothing can be proposed for it."""

    default_code = ErrorCode.PROVIDER_NOT_AVAILABLE


class NoCredentialStore:
    """The accessor of a registry built from settings alone: it refuses, by name."""

    def __init__(self, provider: str) -> None:
        self._provider = provider

    def _refuse(self) -> ConfigurationError:
        return ConfigurationError(
            f"the {self._provider} adapter needs stored credentials, but this provider "
            "registry has no credential store: build it with ProviderRegistry.for_runtime",
            code=ErrorCode.NO_CREDENTIAL_STORE,
        )

    def access_token(self, account: str) -> str:
        raise self._refuse()

    def api_key(self, account: str) -> ApiKeyCredential:
        raise self._refuse()


class StoredCredentials:
    """One provider's view of the encrypted credential store."""

    def __init__(self, service: CredentialService, provider: str) -> None:
        self._service = service
        self._provider = provider

    def access_token(self, account: str) -> str:
        oauth_profile(self._provider)  # refuses a key-pair provider by name
        return self._service.access_token(self._provider, account)

    def api_key(self, account: str) -> ApiKeyCredential:
        api_key_profile(self._provider)
        key_id, secret_key, host = self._service.api_key(self._provider, account)
        return ApiKeyCredential(key_id=key_id, secret_key=secret_key, host=host)


class ProviderRegistry:
    def __init__(
        self,
        settings: Settings,
        extra: Iterable[ProviderAdapter] = (),
        providers: Sequence[ProviderUnit] = PROVIDERS,
        *,
        transport: httpx.BaseTransport | None = None,
        clock: Clock = utc_now,
        runtime: Runtime | None = None,
    ) -> None:
        self._settings = settings
        self._units = {unit.name: unit for unit in providers}
        self._transport = transport
        self._clock = clock
        self._runtime = runtime
        self._credentials: CredentialService | None = None
        self._lock = threading.Lock()
        self._built: dict[str, ProviderAdapter] = {a.name: a for a in extra}

    @classmethod
    def for_runtime(
        cls,
        runtime: Runtime,
        extra: Iterable[ProviderAdapter] = (),
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> ProviderRegistry:
        """A registry whose adapters read credentials from ``runtime``'s store (so
        every token they obtain is noted by the runtime's redactor) and its clock."""
        return cls(
            runtime.settings, extra, transport=transport, clock=runtime.clock, runtime=runtime
        )

    @property
    def names(self) -> list[str]:
        return sorted(set(self._units) | set(self._built))

    @property
    def dispatchable(self) -> list[str]:
        """Providers an action can be proposed for: those with an adapter."""
        with_factory = {n for n, u in self._units.items() if u.adapter_factory is not None}
        return sorted(with_factory | set(self._built))

    def context(self, provider: str) -> ProviderContext:
        """What ``provider``'s adapter factory receives."""
        return ProviderContext(
            provider=provider,
            settings=self._settings,
            credentials=self._accessor(provider),
            transport=self._transport,
            clock=self._clock,
        )

    def _accessor(self, provider: str) -> CredentialAccessor:
        if self._runtime is None:
            return NoCredentialStore(provider)
        with self._lock:
            if self._credentials is None:
                # Imported here: the credential service is only needed by adapters
                # that authenticate, and is heavier than the registry itself.
                from autopack.services.credentials import CredentialService

                self._credentials = CredentialService(self._runtime, transport=self._transport)
            return StoredCredentials(self._credentials, provider)

    def get(self, name: str) -> ProviderAdapter:
        adapter = self._built.get(name)
        if adapter is not None:
            return adapter
        unit = self._units.get(name)
        if unit is None:
            raise UnknownProviderError(
                f"unknown provider {name[:64]!r}: known providers are {', '.join(self.names)}"
            )
        if unit.adapter_factory is None:
            raise ProviderNotAvailableError(
                f"provider {name!r} has no adapter yet: its credentials can be stored, but "
                f"no action can be proposed for it; providers with an adapter: "
                f"{', '.join(self.dispatchable)}",
                details={"provider": name, "dispatchable": self.dispatchable},
            )
        with self._lock:
            adapter = self._built.get(name)
        if adapter is not None:
            return adapter
        adapter = unit.adapter_factory(self.context(name))
        if unit.packet is not None:
            # Its publish/list action takes a publish packet as its payload.
            adapter = PacketAdapter(adapter, unit.packet)
        with self._lock:
            # Two threads may build at once: keep the first, close the spare.
            kept = self._built.setdefault(name, adapter)
        if kept is not adapter:
            _close(adapter)
        return kept

    def close(self) -> None:
        """Close every adapter that holds connections (those built here and given)."""
        for adapter in self._built.values():
            _close(adapter)
        if self._credentials is not None:
            self._credentials.close()


def _close(adapter: ProviderAdapter) -> None:
    closer = getattr(adapter, "close", None)
    if callable(closer):
        closer()
