"""The one machine-readable registry (default ``docs/PROJECT_INDEX.json``).

It decides which docs are living and which are ledgers, holds the drift rules,
the workspace rules, the entrypoints, default ports, the env template path and
the compose services. Every check reads it from the repository it checks, so
``--root`` points the tools at another repository and ``--registry`` at a
registry anywhere in it. The registry is JSON or TOML (by suffix); both are
validated by one JSON Schema, ``schemas/registry.schema.json``, generated
from the models below. Every section is optional: a check whose section is
missing is skipped (see ``cli/docs.py``).
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
# Used when REGISTRY_PATH is absent and no --registry is given.
REGISTRY_TOML_PATH = "docs/PROJECT_INDEX.toml"
SCHEMA_FILE = Path(__file__).parent / "schemas" / "registry.schema.json"
SUMMARY_START = "<!-- SOT_SUMMARY_START -->"
SUMMARY_END = "<!-- SOT_SUMMARY_END -->"
_ID = re.compile(r"[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)*")
_GLOB_CHARS = frozenset("*?[")


def is_glob(pattern: str) -> bool:
    """A pattern with a wildcard; anything else names exactly one path."""
    return not _GLOB_CHARS.isdisjoint(pattern) or pattern.endswith("/")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LedgerSpec(_Strict):
    path: str
    id_prefix: str = Field(pattern=r"^[A-Z]+$")
    title: str
    # List every entry title in the README summary (decisions), not only the latest.
    list_in_summary: bool = False


class DocsSpec(_Strict):
    # Paths or globs of living docs; a glob selects Markdown files only.
    living: list[str] = []
    # Globs taken out of the living docs (vendored, generated, fixtures).
    exclude: list[str] = []
    ledgers: list[LedgerSpec] = []
    # Markdown that is neither living nor a ledger (vendored, fixtures). A ratchet.
    unclassified_allow: list[str] = []


class SummarySpec(_Strict):
    file: str = "README.md"
    refresh_command: str


class LinksSpec(_Strict):
    include: list[str] = ["**"]  # globs of Markdown files the link checker reads
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
    """An Autopack docs-governance registry; every section is optional."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, title="Autopack docs-governance registry"
    )

    schema_version: Literal[1]
    project: str = ""
    description: str = ""
    docs: DocsSpec | None = None
    summary: SummarySpec | None = None
    links: LinksSpec | None = None
    workspace: WorkspaceSpec | None = None
    drift_rules: list[DriftRule] | None = None
    # Built-in rule sets (autopack.governance.rulesets) applied with drift_rules.
    rule_sets: list[Literal["machine-paths", "run-layout"]] = []
    entrypoints: list[Entrypoint] = []
    ports: dict[str, int] = {}
    env_template: str | None = None
    compose: ComposeSpec | None = None

    @property
    def ledger_paths(self) -> list[str]:
        return [ledger.path for ledger in self.docs.ledgers] if self.docs else []


def registry_schema() -> dict[str, object]:
    """The published JSON Schema (committed as SCHEMA_FILE; a test pins the two equal)."""
    schema = Registry.model_json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


class LoadedRegistry:
    """The parsed registry plus its source text (for line numbers in findings)."""

    def __init__(self, root: Path, registry: Registry, text: str, path: str) -> None:
        self.root = root
        self.registry = registry
        self.text = text
        self.path = path  # as findings name it: relative to the root when inside it


def registry_location(root: Path, registry: Path | None) -> tuple[Path, str]:
    """(file, name shown in messages): ``--registry`` relative to the root, or the default."""
    if registry is None:
        json_default, toml_default = root / REGISTRY_PATH, root / REGISTRY_TOML_PATH
        if not json_default.exists() and toml_default.is_file():
            return toml_default, REGISTRY_TOML_PATH
        return json_default, REGISTRY_PATH
    path = registry if registry.is_absolute() else root / registry
    try:
        shown = path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        shown = path.as_posix()
    return path, shown


def parse_registry_text(text: str, shown: str) -> object:
    """The raw data of a registry text: TOML for ``*.toml``, JSON otherwise."""
    if shown.lower().endswith(".toml"):
        import tomllib  # only TOML registries pay for the parser

        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise InvalidInputError(
                f"{shown}: invalid TOML: {exc}", code=ErrorCode.BAD_REGISTRY
            ) from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(
            f"{shown}:{exc.lineno}: invalid JSON: {exc.msg}", code=ErrorCode.BAD_REGISTRY
        ) from exc


def load_registry(root: Path, registry: Path | None = None) -> LoadedRegistry:
    """Read and validate the registry; anything wrong is bad input (exit 2)."""
    if not root.is_dir():
        raise InvalidInputError(f"--root {root}: no such directory", code=ErrorCode.BAD_ROOT)
    path, shown = registry_location(root, registry)
    try:
        text = path.read_bytes().decode("utf-8")
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
        raise InvalidInputError(
            f"{shown}: registry not found under {root}", code=ErrorCode.MISSING_REGISTRY
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"{shown}: unreadable: {exc}", code=ErrorCode.BAD_REGISTRY) from exc
    raw = parse_registry_text(text, shown)
    try:
        parsed = Registry.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(top level)"
        hint = ""
        if not isinstance(raw, dict) or "schema_version" not in raw:
            hint = (
                " (not an Autopack registry? point --registry at one, or run `autopack docs init`)"
            )
        raise InvalidInputError(
            f"{shown}: {where}: {first['msg']}{hint}", code=ErrorCode.BAD_REGISTRY
        ) from exc
    return LoadedRegistry(root, parsed, text, shown)
