"""The throw-away PostgreSQL cluster: fast for tests, durable for benchmarks."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import psycopg
import pytest

ROOT = Path(__file__).resolve().parent.parent


def _throwaway_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "throwaway_pg", ROOT / "scripts" / "throwaway_pg.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Its dataclasses look their module up by name while the class is built.
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(sys.modules[spec.name])
    return sys.modules[spec.name]


def _settings(url: str) -> dict[str, str]:
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        return {
            name: str(conn.execute(f"SHOW {name}").fetchone()[0])  # type: ignore[index]
            for name in ("fsync", "full_page_writes", "synchronous_commit")
        }


@pytest.mark.parametrize("durable", [True, False])
def test_a_durable_cluster_keeps_fsync_and_a_test_cluster_skips_it(durable: bool) -> None:
    throwaway = _throwaway_module()
    if throwaway.find_pg_bin() is None:
        # CI installs PostgreSQL before the tests run (and asserts it elsewhere).
        assert os.environ.get("CI") != "true", "CI must have PostgreSQL binaries"
        pytest.skip("no PostgreSQL binaries on this machine")
    with throwaway.throwaway_postgres(durable=durable) as url:
        assert url is not None
        settings = _settings(url)
    expected = "on" if durable else "off"
    assert settings == {
        "fsync": expected,
        "full_page_writes": expected,
        "synchronous_commit": "on",
    }
