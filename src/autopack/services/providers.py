"""The provider registry: provider name -> adapter, built from settings.

The ledger reaches adapters only through a registry passed in, so tests and
the benchmark add their own in-process adapters instead of patching globals.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import InvalidInputError
from autopack.domain.providers import ProviderAdapter
from autopack.settings import Settings

AdapterFactory = Callable[[Settings], ProviderAdapter]


def _sandbox(settings: Settings) -> ProviderAdapter:
    from autopack.providers.sandbox import SandboxAdapter

    return SandboxAdapter(settings.sandbox_url)


# Every provider Autopack knows, by name. Adapters are built on first use.
FACTORIES: Mapping[str, AdapterFactory] = {"sandbox": _sandbox}


class UnknownProviderError(InvalidInputError):
    default_code = ErrorCode.UNKNOWN_PROVIDER


class ProviderRegistry:
    def __init__(
        self,
        settings: Settings,
        extra: Iterable[ProviderAdapter] = (),
        factories: Mapping[str, AdapterFactory] = FACTORIES,
    ) -> None:
        self._settings = settings
        self._factories = dict(factories)
        self._built: dict[str, ProviderAdapter] = {a.name: a for a in extra}

    @property
    def names(self) -> list[str]:
        return sorted(set(self._factories) | set(self._built))

    def get(self, name: str) -> ProviderAdapter:
        adapter = self._built.get(name)
        if adapter is not None:
            return adapter
        factory = self._factories.get(name)
        if factory is None:
            raise UnknownProviderError(
                f"unknown provider {name[:64]!r}: known providers are {', '.join(self.names)}"
            )
        adapter = factory(self._settings)
        self._built[name] = adapter
        return adapter

    def close(self) -> None:
        """Close every adapter that holds connections (those built here and given)."""
        for adapter in self._built.values():
            closer = getattr(adapter, "close", None)
            if callable(closer):
                closer()
