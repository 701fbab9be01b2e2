"""Shared helpers for the CI contract tests: the real repository and its registry."""

from __future__ import annotations

from pathlib import Path

from autopack.governance.registry import Registry, load_registry

REPO = Path(__file__).resolve().parents[2]


def registry() -> Registry:
    return load_registry(REPO).registry


def read(rel: str, root: Path = REPO) -> str:
    return (root / rel).read_text(encoding="utf-8")
