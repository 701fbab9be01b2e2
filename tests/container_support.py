"""The repository's container files as data, for the CI and docs contract tests."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from autopack.governance.registry import load_registry

REPO = Path(__file__).resolve().parents[1]


def compose() -> dict[str, Any]:
    """The compose file the registry names, parsed."""
    declared = load_registry(REPO).registry.compose
    assert declared is not None
    data: dict[str, Any] = yaml.safe_load((REPO / declared.file).read_text(encoding="utf-8"))
    return data


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", (REPO / "Dockerfile").read_text(encoding="utf-8"))
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), " ".join(rest.split())))
    return out
