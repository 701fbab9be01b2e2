"""The one machine-readable registry: ``docs/PROJECT_INDEX.json``.

It decides which docs are living and which are ledgers, holds the drift rules,
the workspace rules, the entrypoints, default ports, the env template path and
the compose services. Every check reads it from the repository it checks, so
``--root`` points the tools at another repository and its own registry.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import InvalidInputError

REGISTRY_PATH = "docs/PROJECT_INDEX.json"
SUMMARY_START = "<!-- SOT_SUMMARY_START -->"
SUMMARY_END = "<!-- SOT_SUMMARY_END -->"
_ID = re.compile(r"[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)*")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LedgerSpec(_Strict):
    path: str
    id_prefix: str = Field(pattern=r"^[A-Z]+$")
    title: str
    # List every entry title in the README summary (decisions), not only the latest.
    list_in_summary: bool = False


class DocsSpec(_Strict):
    living: list[str]
    ledgers: list[LedgerSpec]
    # Markdown that is neither living nor a ledger (vendored, fixtures). A ratchet.
    unclassified_allow: list[str] = []


class SummarySpec(_Strict):
    file: str = "README.md"
    refresh_command: str


class LinksSpec(_Strict):
    exclude: list[str] = []  # globs of Markdown files the link checker skips
    ignore: list[str] = []  # "source.md -> href" pairs accepted although broken


class DriftAllow(_Strict):
    path: str
    contains: str

    @property
    def key(self) -> str:
        return f"{self.path}: {self.contains}"


class DriftRule(_Strict):
    id: str
    pattern: str
    scope: Literal["prose", "code", "any"]
    message: str
    fix: str
    reason: str
    paths: list[str] = ["**"]  # globs over living docs
    allow: list[DriftAllow] = []

    @field_validator("id")
    @classmethod
    def _id_shape(cls, value: str) -> str:
        if _ID.fullmatch(value) is None:
            raise ValueError("use upper-case words joined by '-', e.g. RUN-LAYOUT-FLAT")
        return value

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a Python regex: {exc}") from exc
        return value

    def regex(self) -> re.Pattern[str]:
        return re.compile(self.pattern)


class Entrypoint(_Strict):
    path: str  # a file in the repository, or the console script name
    kind: Literal["console_script", "python", "shell"]
    purpose: str
    # Arguments for a cheap, offline run that must exit 0; null when none exists.
    smoke: list[str] | None = None
    why_no_smoke: str = ""


class WorkspaceSpec(_Strict):
    top_level: list[str]
    # directory -> globs (relative to it) of what may live there; each glob a ratchet
    directories: dict[str, list[str]] = {}
    forbidden: list[str] = []
    check_runs: bool = True


class ComposeSpec(_Strict):
    file: str
    services: list[str]


class Registry(_Strict):
    schema_version: Literal[1]
    project: str
    description: str = ""
    docs: DocsSpec
    summary: SummarySpec
    links: LinksSpec = LinksSpec()
    workspace: WorkspaceSpec
    drift_rules: list[DriftRule]
    entrypoints: list[Entrypoint] = []
    ports: dict[str, int] = {}
    env_template: str | None = None
    compose: ComposeSpec | None = None

    @property
    def ledger_paths(self) -> list[str]:
        return [ledger.path for ledger in self.docs.ledgers]


class LoadedRegistry:
    """The parsed registry plus its source text (for line numbers in findings)."""

    def __init__(self, root: Path, registry: Registry, text: str) -> None:
        self.root = root
        self.registry = registry
        self.text = text
        self.path = REGISTRY_PATH


def load_registry(root: Path) -> LoadedRegistry:
    """Read and validate the registry; anything wrong is bad input (exit 2)."""
    if not root.is_dir():
        raise InvalidInputError(f"--root {root}: no such directory", code=ErrorCode.BAD_ROOT)
    path = root / REGISTRY_PATH
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError as exc:
        raise InvalidInputError(
            f"{REGISTRY_PATH}: registry not found under {root}", code=ErrorCode.MISSING_REGISTRY
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(
            f"{REGISTRY_PATH}: unreadable: {exc}", code=ErrorCode.BAD_REGISTRY
        ) from exc
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(
            f"{REGISTRY_PATH}:{exc.lineno}: invalid JSON: {exc.msg}", code=ErrorCode.BAD_REGISTRY
        ) from exc
    try:
        registry = Registry.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(top level)"
        raise InvalidInputError(
            f"{REGISTRY_PATH}: {where}: {first['msg']}", code=ErrorCode.BAD_REGISTRY
        ) from exc
    return LoadedRegistry(root, registry, text)
