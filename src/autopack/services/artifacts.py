"""Artifact sources: what a run context, a brief and run memory draw on.

Each source is one small function (or one ``FileSource`` line) in
``ARTIFACT_SOURCES``: given a run, it names the artifacts it knows (run-relative
path, kind, SHA-256 of the bytes) and may add a section (a table) to the run
context. Adding a kind of artifact is adding one entry here; the context, the
briefs and run memory pick it up. File sources marked ``indexed`` are also run
memory's corpus (publish packets among them).

Policy diffs are the one kind that lives outside run directories (the policy
monitor stores them once per workspace): their artifact paths are relative to
the workspace (``.autonomous_runs/_autopack/policy/<provider>/diffs/...``), a
run cites the ones around the snapshots it relied on (``policy_diffs``), and run
memory indexes every stored diff once, belonging to no run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autopack.domain.canonical import CanonicalizationError, parse_json_strict, sha256_hex
from autopack.domain.handoff import section
from autopack.domain.layout import (
    LEDGER_DIR,
    LEDGER_EXPORT_NAME,
    MANIFEST_NAME,
    RunRef,
    workspace_relative,
)
from autopack.services.context import Runtime
from autopack.services.fsio import resolves_inside as inside
from autopack.services.ledger.records import MAX_LIST_LIMIT


@dataclass(frozen=True, slots=True)
class Artifact:
    kind: str
    path: str  # relative to the run directory, POSIX form
    sha256: str

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "path": self.path, "sha256": self.sha256}


@dataclass(frozen=True, slots=True)
class Collected:
    artifacts: tuple[Artifact, ...] = ()
    sections: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class SourceInput:
    runtime: Runtime
    ref: RunRef

    @property
    def run_dir(self) -> Path:
        return self.ref.directory(self.runtime.workspace)


ArtifactSource = Callable[[SourceInput], Collected]


@dataclass(frozen=True, slots=True)
class FileSource:
    """Files of one kind at a run-relative glob (``*`` matches within a directory)."""

    kind: str
    pattern: str
    indexed: bool = field(default=True)

    def files(self, run_dir: Path) -> list[Path]:
        found = [
            p
            for p in run_dir.glob(self.pattern)
            if p.is_file() and not p.name.startswith(".") and inside(p, run_dir)
        ]
        return sorted(found, key=lambda p: p.relative_to(run_dir).as_posix())

    def __call__(self, source: SourceInput) -> Collected:
        return Collected(artifacts=tuple(file_artifacts(self, source.run_dir)))


def file_artifacts(source: FileSource, run_dir: Path) -> Iterable[Artifact]:
    for path in source.files(run_dir):
        yield Artifact(
            source.kind, path.relative_to(run_dir).as_posix(), sha256_hex(path.read_bytes())
        )


ACTION_COLUMNS = (
    "key",
    "provider",
    "action",
    "account",
    "status",
    "payload_hash",
    "request_hash",
    "approval_id",
    "provider_object_id",
)


def ledger_actions(source: SourceInput) -> Collected:
    """The run's ledger actions with their status and hashes (from the database)."""
    # Imported here: the ledger pulls in the provider registry, which only this source needs.
    from autopack.services.ledger import LedgerService

    records = LedgerService(source.runtime).list(run_id=source.ref.run_id, limit=MAX_LIST_LIMIT)
    rows = sorted(
        ([getattr(r, c) for c in ACTION_COLUMNS] for r in records), key=lambda row: str(row[0])
    )
    return Collected(sections=(section("actions", "Actions", ACTION_COLUMNS, rows),))


POLICY_COLUMNS = ("provider", "url", "sha256")


def policy_snapshots(source: SourceInput) -> Collected:
    """The current acknowledged policy snapshots of the providers the run acts on
    (what its publish packets must cite), from the policy monitor."""
    # Imported here: only this source needs the ledger and the policy monitor.
    from autopack.providers.registry import POLICY_PAGES
    from autopack.services.ledger import LedgerService
    from autopack.services.packet_refs import current_policy_refs

    records = LedgerService(source.runtime).list(run_id=source.ref.run_id, limit=MAX_LIST_LIMIT)
    providers = sorted({r.provider for r in records} & set(POLICY_PAGES))
    rows = [
        [ref.provider, ref.url, ref.sha256]
        for provider in providers
        for ref in sorted(
            current_policy_refs(source.runtime, provider), key=lambda r: (r.url, r.sha256)
        )
    ]
    if not rows:
        return Collected()
    return Collected(
        sections=(section("policy", "Policy snapshots in force", POLICY_COLUMNS, rows),)
    )


RUN_RECORD = FileSource("run", MANIFEST_NAME, indexed=False)
PACKETS = FileSource("packet", "packets/*.json")
POLICY_DIFF_KIND = "policy_diff"
CHANGE_COLUMNS = ("provider", "url", "from_hash", "to_hash")


def packet_policy_refs(run_dir: Path) -> set[tuple[str, str, str]]:
    """``(provider, url, sha256)`` of every policy snapshot the run's packets cite."""
    refs: set[tuple[str, str, str]] = set()
    for path in PACKETS.files(run_dir):
        try:
            document = parse_json_strict(path.read_bytes())
        except CanonicalizationError:
            continue  # not a packet Autopack wrote: it cites nothing
        cited = document.get("policy_refs") if isinstance(document, dict) else None
        for ref in cited if isinstance(cited, list) else []:
            if not isinstance(ref, dict):
                continue
            provider, url, digest = (ref.get(k) for k in ("provider", "url", "sha256"))
            if isinstance(provider, str) and isinstance(url, str) and isinstance(digest, str):
                refs.add((provider, url, digest))
    return refs


def policy_diffs(source: SourceInput) -> Collected:
    """The policy changes around the snapshots the run relied on: those its packets
    cite and those in force for the providers it acts on. Per page, the change that
    made the earliest of them and every later change (unacknowledged ones too), as
    the stored diff files (workspace-relative paths) and a "Policy changes" table."""
    # Imported here: only this source needs the policy monitor's history.
    from autopack.services.policy_monitor.diffs import changes_around

    in_force = policy_snapshots(source)
    cited = packet_policy_refs(source.run_dir) | {
        (row[0], row[1], row[2]) for s in in_force.sections for row in s["rows"]
    }
    changes = changes_around(source.runtime, sorted(cited))
    if not changes:
        return Collected()
    workspace = source.runtime.workspace
    artifacts = tuple(
        Artifact(
            POLICY_DIFF_KIND,
            workspace_relative(workspace, c.path),
            sha256_hex(c.path.read_bytes()),
        )
        for c in changes
    )
    rows = sorted([c.provider, c.url, c.old, c.new] for c in changes)
    return Collected(
        artifacts=artifacts,
        sections=(section("policy_changes", "Policy changes", CHANGE_COLUMNS, rows),),
    )


LEDGER_EXPORT = FileSource("ledger_export", f"{LEDGER_DIR}/{LEDGER_EXPORT_NAME}")
ACCEPTED_OUTPUTS = FileSource("output", "handoff/outputs/*.json")

ARTIFACT_SOURCES: tuple[ArtifactSource, ...] = (
    RUN_RECORD,
    ledger_actions,
    policy_snapshots,
    PACKETS,
    policy_diffs,
    LEDGER_EXPORT,
    ACCEPTED_OUTPUTS,
)

# The handoff's own generated files: cited by briefs and indexed, never inputs
# of the context they belong to.
CONTEXT_FILE = FileSource("context", "handoff/context.md")
CONTEXT_SOURCE_FILE = FileSource("context_json", "handoff/context.json", indexed=False)
BRIEF_FILES = FileSource("brief", "handoff/briefs/*.md")
HANDOFF_FILES: tuple[FileSource, ...] = (CONTEXT_FILE, CONTEXT_SOURCE_FILE, BRIEF_FILES)


def collect(runtime: Runtime, ref: RunRef, sources: Iterable[ArtifactSource]) -> Collected:
    """Every artifact and section the sources give, artifacts sorted by path."""
    given = SourceInput(runtime, ref)
    artifacts: dict[str, Artifact] = {}
    sections: list[dict[str, Any]] = []
    for source in sources:
        found = source(given)
        artifacts.update((a.path, a) for a in found.artifacts)
        sections.extend(found.sections)
    return Collected(tuple(artifacts[p] for p in sorted(artifacts)), tuple(sections))


def indexed_files() -> tuple[FileSource, ...]:
    """Run memory's corpus: every indexed file source."""
    every = (*ARTIFACT_SOURCES, *HANDOFF_FILES)
    return tuple(s for s in every if isinstance(s, FileSource) and s.indexed)


def run_directories(workspace: Path) -> Iterable[RunRef]:
    """Every run directory on disk (``<project>/runs/<family>/<run_id>`` with a run.json)."""
    from autopack.domain.errors import InvalidInputError
    from autopack.domain.layout import RUNS_SEGMENT, runs_root

    root = runs_root(workspace)
    if not root.is_dir():
        return
    for manifest in sorted(root.glob(f"*/{RUNS_SEGMENT}/*/*/{MANIFEST_NAME}")):
        run_dir = manifest.parent
        try:
            yield RunRef(run_dir.parent.parent.parent.name, run_dir.parent.name, run_dir.name)
        except InvalidInputError:
            continue  # not a directory Autopack made (a name no identifier can take)
