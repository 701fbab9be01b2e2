"""docs/PROJECT_INDEX.json against reality, both ways: files, docs, ports, compose, entrypoints."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from docs_support import REPO, read, registry

from autopack.governance.drift import check_classification
from autopack.governance.registry import Entrypoint, load_registry
from autopack.governance.view import RepoView
from autopack.settings import DEFAULT_PORT, DEFAULT_SANDBOX_PORT


def _compose() -> dict[str, Any]:
    compose = registry().compose
    assert compose is not None
    data: dict[str, Any] = yaml.safe_load(read(compose.file))
    return data


def test_registry_loads_and_names_its_own_format() -> None:
    loaded = load_registry(REPO)
    assert loaded.registry.project == "autopack"
    assert "docs/DOCS_GOVERNANCE.md" in loaded.registry.description


def test_every_listed_file_exists() -> None:
    reg = registry()
    assert reg.docs is not None
    assert reg.summary is not None
    listed = [
        *reg.docs.living,
        *reg.ledger_paths,
        reg.summary.file,
        *(e.path for e in reg.entrypoints if e.kind != "console_script"),
    ]
    listed += [p for p in (reg.env_template, reg.compose.file if reg.compose else None) if p]
    missing = [path for path in listed if not (REPO / path).is_file()]
    assert not missing, f"listed in the registry but missing: {missing}"


def test_every_markdown_file_is_classified() -> None:
    findings = check_classification(RepoView(REPO))
    assert not findings, "\n".join(f.render() for f in findings)


def test_ports_equal_the_settings_defaults_and_the_compose_file() -> None:
    ports = registry().ports
    assert ports["api"] == DEFAULT_PORT
    assert ports["sandbox"] == DEFAULT_SANDBOX_PORT
    services = _compose()["services"]
    published = [str(p).rsplit(":", 1)[-1] for p in services["backend"]["ports"]]
    assert published == [str(ports["api"])]
    assert str(services["backend"]["environment"]["AUTOPACK_PORT"]) == str(ports["api"])
    assert [str(p) for p in services["db"]["expose"]] == [str(ports["postgres"])]
    url = services["backend"]["environment"]["AUTOPACK_DATABASE_URL"]
    assert re.search(rf"@db:{ports['postgres']}/", url)


def test_compose_services_equal_the_registry() -> None:
    compose = registry().compose
    assert compose is not None
    assert sorted(_compose()["services"]) == sorted(compose.services)


def test_console_script_is_the_packaged_one() -> None:
    scripts = tomllib.loads(read("pyproject.toml"))["project"]["scripts"]
    consoles = [e.path for e in registry().entrypoints if e.kind == "console_script"]
    assert sorted(consoles) == sorted(scripts)


def _has_main_guard(path: Path) -> bool:
    return '__name__ == "__main__"' in path.read_text(encoding="utf-8")


def test_every_runnable_script_is_an_entrypoint() -> None:
    runnable = {
        p.relative_to(REPO).as_posix()
        for d in ("scripts", "bench")
        for p in (REPO / d).rglob("*.py")
        if _has_main_guard(p)
    }
    runnable |= {p.relative_to(REPO).as_posix() for p in (REPO / ".ci").iterdir() if p.is_file()}
    registered = {e.path for e in registry().entrypoints if e.kind != "console_script"}
    assert runnable - registered == set(), "runnable but not in the registry's entrypoints"
    assert registered - runnable == set(), "registered entrypoints that are not runnable files"


def test_entrypoints_are_sorted_and_explain_a_missing_smoke() -> None:
    entries = registry().entrypoints
    assert [e.path for e in entries] == sorted(e.path for e in entries)
    assert [e.path for e in entries if e.smoke is None and not e.why_no_smoke] == []


def _command(entry: Entrypoint) -> list[str]:
    assert entry.smoke is not None
    if entry.kind == "console_script":
        suffix = ".exe" if os.name == "nt" else ""
        return [str(Path(sys.executable).parent / f"{entry.path}{suffix}"), *entry.smoke]
    if entry.kind == "python":
        return [sys.executable, str(REPO / entry.path), *entry.smoke]
    return [str(REPO / entry.path), *entry.smoke]


@pytest.mark.parametrize(
    "entry", [e for e in registry().entrypoints if e.smoke is not None], ids=lambda e: e.path
)
def test_every_entrypoint_runs(entry: Entrypoint) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOPACK_")}
    proc = subprocess.run(
        _command(entry), cwd=REPO, env=env, capture_output=True, timeout=120, check=False
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output.decode(errors="replace")
    assert output.decode("ascii", errors="replace") == output.decode(errors="replace"), (
        "output must be ASCII-only"
    )
