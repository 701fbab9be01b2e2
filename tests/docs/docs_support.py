"""Shared helpers for the docs tests: the real repository, copies of it, tiny repos."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from autopack.cli.app import main
from autopack.governance.markdown import MarkdownFacts, parse_markdown
from autopack.governance.registry import REGISTRY_PATH, LedgerSpec, Registry, load_registry
from autopack.governance.repo import list_repo_files

REPO = Path(__file__).resolve().parents[2]


def registry() -> Registry:
    return load_registry(REPO).registry


def ledger_specs() -> list[LedgerSpec]:
    docs = registry().docs
    assert docs is not None
    return docs.ledgers


def living_docs() -> list[str]:
    docs = registry().docs
    assert docs is not None
    return docs.living


def read(rel: str, root: Path = REPO) -> str:
    return (root / rel).read_text(encoding="utf-8")


def facts(rel: str, root: Path = REPO) -> MarkdownFacts:
    return parse_markdown(read(rel, root), inline_code=True)


def git_init(root: Path) -> None:
    """A work tree git can list; files stay untracked (listed as not ignored)."""
    subprocess.run(["git", "init", "-q", str(root)], check=True)


def copy_repo(tmp_path: Path) -> Path:
    """A git work tree holding every file git lists in the real repository."""
    target = tmp_path / "repo"
    for rel in list_repo_files(REPO):
        source = REPO / rel
        if source.is_file():
            dest = target / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, dest)
    git_init(target)
    return target


def minimal_registry(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "schema_version": 1,
        "project": "sample",
        "docs": {"living": ["README.md"], "ledgers": []},
        "summary": {"file": "README.md", "refresh_command": "refresh --execute"},
        "links": {},
        "workspace": {"top_level": ["README.md", "docs/"]},
        "drift_rules": [],
    }
    base.update(overrides)
    return base


def make_repo(tmp_path: Path, files: dict[str, str], reg: dict[str, Any] | None = None) -> Path:
    """A small git work tree with ``files`` and a registry (minimal unless given)."""
    root = tmp_path / "sample"
    root.mkdir()
    git_init(root)
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    write_registry(root, reg if reg is not None else minimal_registry())
    return root


def write_registry(root: Path, reg: dict[str, Any]) -> None:
    path = root / REGISTRY_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(reg, indent=2) + "\n", encoding="utf-8")


def load_json(root: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((root / REGISTRY_PATH).read_text(encoding="utf-8"))
    return data


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run `autopack ARGS` in-process through the real entry point."""
    with pytest.raises(SystemExit) as info:
        main(list(args))
    captured = capsys.readouterr()
    code = info.value.code
    return (code if isinstance(code, int) else 1), captured.out, captured.err


def run_script(
    script: str, *args: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run a repository script the way an operator does, as a separate process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOPACK_")}
    return subprocess.run(
        [sys.executable, str(REPO / script), *args],
        cwd=cwd or REPO,
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )
