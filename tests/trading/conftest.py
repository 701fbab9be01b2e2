"""Fixtures of the trading tests: the Alpaca fake over loopback and a runtime
pointed at it (SQLite and PostgreSQL through ``database_url``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from autopack.services.context import Runtime
from autopack.services.runtime import build_runtime
from autopack.settings import Settings
from fakes_support import FakesProcess, running_fakes


@pytest.fixture
def fakes(tmp_path: Path) -> Iterator[FakesProcess]:
    with running_fakes(tmp_path, "alpaca") as running:
        running.control("POST", "/alpaca/prices", {"prices": {"AAPL": "100", "MSFT": "50"}})
        yield running
        assert running.stderr_problems() == []


@pytest.fixture
def rt_factory(
    workspace: Path, database_url: str, fakes: FakesProcess
) -> Iterator[Callable[..., Runtime]]:
    """Build runtimes on the fakes with extra settings (closed at the end)."""
    built: list[Runtime] = []

    def build(**extra: Any) -> Runtime:
        runtime = build_runtime(
            Settings(
                _env_file=None,
                workspace=workspace,
                database_url=database_url,
                alpaca_paper_url=f"{fakes.url}/alpaca/paper",
                alpaca_live_url=f"{fakes.url}/alpaca/live",
                **extra,
            )
        )
        built.append(runtime)
        return runtime

    yield build
    for runtime in built:
        runtime.close()


@pytest.fixture
def rt(rt_factory: Callable[..., Runtime]) -> Runtime:
    return rt_factory()
