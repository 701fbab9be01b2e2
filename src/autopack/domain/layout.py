"""The run layout: the only module that knows where run files live.

    <workspace>/.autonomous_runs/<project>/runs/<family>/<run_id>/

Everything else asks this module for paths; nobody joins them by hand.
Paths are computed, never touched: the functions here do no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import InvalidInputError

RUNS_ROOT = ".autonomous_runs"
RUNS_SEGMENT = "runs"
MANIFEST_NAME = "run.json"
# Autopack's own state (embedded database, sandbox store) lives beside the
# projects under a name no valid identifier can take (identifiers never start
# with "_"), so it can never collide with a project directory.
STATE_DIR = "_autopack"
EMBEDDED_DB_NAME = "autopack.db"

IDENTIFIER_MAX = 64
IDENTIFIER_RULE = (
    "use 1 to 64 of: lowercase letters, digits, '.', '_', '-'; "
    "start with a letter or digit; no '..'"
)
_IDENTIFIER = re.compile(r"[a-z0-9][a-z0-9._-]*")

# Placeholder form of the layout, rendered for docs and their contract tests.
RUN_DIR_TEMPLATE = f"{RUNS_ROOT}/<project>/{RUNS_SEGMENT}/<family>/<run_id>/"


class InvalidIdentifierError(InvalidInputError):
    default_code = ErrorCode.INVALID_IDENTIFIER


def validate_identifier(kind: str, value: str) -> str:
    """Return ``value`` if it is a valid identifier, else raise naming the rule."""
    if (
        not value
        or len(value) > IDENTIFIER_MAX
        or ".." in value
        or _IDENTIFIER.fullmatch(value) is None
    ):
        shown = value if len(value) <= 80 else value[:77] + "..."
        raise InvalidIdentifierError(
            f"invalid {kind} {shown!r}: {IDENTIFIER_RULE}",
            details={"field": kind, "rule": IDENTIFIER_RULE},
        )
    return value


def new_run_id(now: datetime, entropy: bytes) -> str:
    """A sortable, unique run id: UTC time to the microsecond plus random hex.

    The clock and the randomness are passed in so callers (and tests) own them.
    """
    if len(entropy) < 3:
        raise ValueError("need at least 3 bytes of entropy")
    stamp = now.astimezone(UTC).strftime("%Y%m%d-%H%M%S-%f")
    return f"{stamp}-{entropy[:3].hex()}"


@dataclass(frozen=True, slots=True)
class RunRef:
    """A validated (project, family, run_id) triple and the paths it owns."""

    project: str
    family: str
    run_id: str

    def __post_init__(self) -> None:
        validate_identifier("project", self.project)
        validate_identifier("family", self.family)
        validate_identifier("run_id", self.run_id)

    @property
    def relative_dir(self) -> PurePosixPath:
        return PurePosixPath(RUNS_ROOT, self.project, RUNS_SEGMENT, self.family, self.run_id)

    def directory(self, workspace: Path) -> Path:
        return workspace.joinpath(*self.relative_dir.parts)

    def manifest_path(self, workspace: Path) -> Path:
        return self.directory(workspace) / MANIFEST_NAME

    def artifact_path(self, workspace: Path, *parts: str) -> Path:
        """A file inside the run directory; each part is a validated name."""
        if not parts:
            raise InvalidInputError("an artifact path needs at least one part")
        for part in parts:
            validate_identifier("artifact path part", part)
        return self.directory(workspace).joinpath(*parts)


def runs_root(workspace: Path) -> Path:
    return workspace / RUNS_ROOT


def state_dir(workspace: Path) -> Path:
    return workspace / RUNS_ROOT / STATE_DIR


def embedded_database_path(workspace: Path) -> Path:
    return state_dir(workspace) / EMBEDDED_DB_NAME


POLICY_NAME = "policy.json"
LEDGER_DIR = "ledger"
LEDGER_EXPORT_NAME = "actions.json"


def project_dir(workspace: Path, project: str) -> Path:
    return workspace / RUNS_ROOT / validate_identifier("project", project)


def project_policy_path(workspace: Path, project: str) -> Path:
    """The project policy file: ``.autonomous_runs/<project>/policy.json``."""
    return project_dir(workspace, project) / POLICY_NAME


def ledger_export_path(workspace: Path, ref: RunRef) -> Path:
    """The run-local ledger export: ``<run dir>/ledger/actions.json``."""
    return ref.artifact_path(workspace, LEDGER_DIR, LEDGER_EXPORT_NAME)


CREDENTIALS_KEY_NAME = "credentials.key"
REAUTH_DIR = "reauth"


def credentials_key_path(workspace: Path) -> Path:
    """Development-only generated credential key: ``_autopack/credentials.key``."""
    return state_dir(workspace) / CREDENTIALS_KEY_NAME


def reauth_task_paths(workspace: Path, provider: str, account: str) -> tuple[Path, Path]:
    """A re-auth task: ``_autopack/reauth/<provider>/<account>.md`` and ``.json``."""
    directory = state_dir(workspace) / REAUTH_DIR / validate_identifier("provider", provider)
    name = validate_identifier("account", account)
    return directory / f"{name}.md", directory / f"{name}.json"


POLICY_SNAPSHOT_DIR = "policy"
_SNAPSHOT_HASH = re.compile(r"[0-9a-f]{64}")


def _snapshot_name(value: str) -> str:
    if not _SNAPSHOT_HASH.fullmatch(value):
        raise InvalidIdentifierError(
            f"snapshot hash must be 64 lowercase hex digits, got {value[:80]!r}"
        )
    return value


POLICY_DIFF_DIR = "diffs"
POLICY_DIFF_SUFFIX = ".diff"
_POLICY_DIFF_NAME = re.compile(r"([0-9a-f]{64})-([0-9a-f]{64})\.diff")


def policy_root(workspace: Path) -> Path:
    """Every provider's policy snapshots and diffs: ``_autopack/policy/``."""
    return state_dir(workspace) / POLICY_SNAPSHOT_DIR


def _policy_provider_dir(workspace: Path, provider: str) -> Path:
    return policy_root(workspace) / validate_identifier("provider", provider)


def policy_snapshot_path(workspace: Path, provider: str, snapshot: str) -> Path:
    """A policy snapshot's text: ``_autopack/policy/<provider>/<hash>.txt``."""
    return _policy_provider_dir(workspace, provider) / f"{_snapshot_name(snapshot)}.txt"


def policy_diff_dir(workspace: Path, provider: str) -> Path:
    """Where a provider's policy diffs are: ``_autopack/policy/<provider>/diffs/``."""
    return _policy_provider_dir(workspace, provider) / POLICY_DIFF_DIR


def policy_diff_path(workspace: Path, provider: str, old: str, new: str) -> Path:
    """A policy change's unified diff: ``_autopack/policy/<provider>/diffs/<old>-<new>.diff``."""
    name = f"{_snapshot_name(old)}-{_snapshot_name(new)}{POLICY_DIFF_SUFFIX}"
    return policy_diff_dir(workspace, provider) / name


def policy_diff_hashes(name: str) -> tuple[str, str] | None:
    """``(old, new)`` of a policy diff file name; None for any other name."""
    match = _POLICY_DIFF_NAME.fullmatch(name)
    return None if match is None else (match.group(1), match.group(2))


def workspace_relative(workspace: Path, path: Path) -> str:
    """A path under the workspace as the POSIX path relative to it (no machine path)."""
    return path.relative_to(workspace).as_posix()


# Sub-agent handoff files: ``<run dir>/handoff/`` (see ``services.handoff``).
HANDOFF_DIR = "handoff"
HANDOFF_CONTEXT_JSON = "context.json"
HANDOFF_CONTEXT_MD = "context.md"
HANDOFF_BRIEFS = "briefs"
HANDOFF_OUTPUTS = "outputs"
HANDOFF_REJECTED = "rejected"
MEMORY_DIR = "memory"


def handoff_path(workspace: Path, ref: RunRef, *parts: str) -> Path:
    """A file under the run's ``handoff/`` directory; each part is a validated name."""
    return ref.artifact_path(workspace, HANDOFF_DIR, *parts)


def memory_index_path(workspace: Path) -> Path:
    """The embedded run-memory index: ``_autopack/memory/``."""
    return state_dir(workspace) / MEMORY_DIR
