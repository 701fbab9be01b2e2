"""Project policy files: ``.autonomous_runs/<project>/policy.json`` (see domain.layout).

A missing file means the default policy: nothing is auto-approved and nobody
approves their own action. A malformed file is an error, never a silent default.
"""

from __future__ import annotations

import threading
from pathlib import Path

from autopack.domain.approvals import DEFAULT_POLICY, ProjectPolicy
from autopack.domain.canonical import parse_json_strict
from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import InvalidInputError
from autopack.domain.layout import project_policy_path
from autopack.domain.ledger import Catalogue
from autopack.providers.registry import ACTION_CATALOGUE


class PolicyLoader:
    """Reads policy files, re-reading one only when its size or mtime changes."""

    def __init__(self, workspace: Path, catalogue: Catalogue = ACTION_CATALOGUE) -> None:
        self._workspace = workspace
        # The providers' declared action categories: what a policy may never auto-approve.
        self._catalogue = catalogue
        self._cache: dict[str, tuple[tuple[int, int], ProjectPolicy]] = {}
        self._paths: dict[str, Path] = {}
        self._lock = threading.Lock()

    def path(self, project: str) -> Path:
        path = self._paths.get(project)
        if path is None:
            path = self._paths[project] = project_policy_path(self._workspace, project)
        return path

    def load(self, project: str | None) -> ProjectPolicy:
        if project is None:
            return DEFAULT_POLICY
        path = self.path(project)
        try:
            stat = path.stat()
        except FileNotFoundError:
            return DEFAULT_POLICY
        stamp = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            cached = self._cache.get(project)
            if cached is not None and cached[0] == stamp:
                return cached[1]
        try:
            data = parse_json_strict(path.read_bytes())
        except InvalidInputError as exc:
            raise InvalidInputError(
                f"project policy {path.name} of {project!r}: {exc.message}",
                code=ErrorCode.INVALID_POLICY,
            ) from exc
        policy = ProjectPolicy.from_json(data, self._catalogue)
        with self._lock:
            self._cache[project] = (stamp, policy)
        return policy
