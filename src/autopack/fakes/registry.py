"""The fakes the host serves: provider name -> factory (one line per fake).

A fake is imported only when the host builds it, so one broken fake never stops
the others from being listed.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Final

from autopack.fakes.protocol import FakeProvider
from autopack.fakes.store import FakeStore

# provider name -> module holding ``build(store) -> FakeProvider``.
FAKES: Final[Mapping[str, str]] = {
    "alpaca": "autopack.fakes.alpaca",
    "shopify": "autopack.fakes.shopify",
    "etsy": "autopack.fakes.etsy",
}


def build_fakes(names: list[str], store: FakeStore) -> list[FakeProvider]:
    """The fakes ``names`` (every registered one when empty), built on ``store``."""
    unknown = sorted(set(names) - set(FAKES))
    if unknown:
        known = ", ".join(sorted(FAKES)) or "none"
        raise ValueError(f"no fake for {', '.join(unknown)}: known fakes are {known}")
    wanted = names or sorted(FAKES)
    built: list[FakeProvider] = []
    for name in wanted:
        module = importlib.import_module(FAKES[name])
        built.append(module.build(store))
    return built
