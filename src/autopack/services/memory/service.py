"""Run memory: index run artifacts, search them, rebuild the index from the files.

The corpus is every indexed file source of ``services.artifacts`` in every run
directory, plus every policy diff the policy monitor stored in the workspace. A
run is indexed as a whole (its old points replaced), each artifact version under
an id derived from its path and hash, so indexing is idempotent and a rebuild
from the files equals the incremental index.

Policy diffs belong to no run: they are one group (``POLICY_GROUP``, a key no
run can take) re-indexed with every run, so a new diff is found by the next
index. Their hits have empty project, family and run id, a workspace-relative
path, and are left out of project-filtered searches and of similar runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from autopack.domain.canonical import sha256_hex
from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import InvalidInputError
from autopack.domain.layout import (
    RunRef,
    memory_index_path,
    validate_identifier,
    workspace_relative,
)
from autopack.domain.memory import document_vector, point_id, query_vector, terms
from autopack.domain.redaction import Redactor
from autopack.services.artifacts import POLICY_DIFF_KIND, indexed_files, run_directories
from autopack.services.context import Runtime
from autopack.services.memory.index import EmbeddedIndex, IndexedPoint, MemoryIndex, ServerIndex

MAX_INDEXED_BYTES: Final = 1024 * 1024  # of one artifact's text
DEFAULT_LIMIT: Final = 10
MAX_LIMIT: Final = 100
MAX_QUERY: Final = 2000
REBUILD_BATCH: Final = 200  # runs written per index update
# The group key of the workspace's policy diffs: run keys start with a project
# identifier, which never starts with "_".
POLICY_GROUP: Final = "_autopack/policy"


def run_key(ref: RunRef) -> str:
    return f"{ref.project}/{ref.family}/{ref.run_id}"


def open_index(runtime: Runtime) -> MemoryIndex:
    """The server when ``AUTOPACK_QDRANT_URL`` is set, else the embedded shard."""
    url = runtime.settings.qdrant_url
    if url:
        return ServerIndex.for_url(url)
    return EmbeddedIndex(memory_index_path(runtime.workspace))


@dataclass(frozen=True, slots=True)
class SearchHit:
    rank: int
    score: float
    project: str
    family: str
    run_id: str
    kind: str
    path: str
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            # A string: scores are floats, and hashed or canonical JSON refuses floats.
            "score": f"{self.score:.6f}",
            "project": self.project,
            "family": self.family,
            "run_id": self.run_id,
            "kind": self.kind,
            "path": self.path,
            "sha256": self.sha256,
        }


class MemoryService:
    def __init__(self, runtime: Runtime, index: MemoryIndex | None = None) -> None:
        self.rt = runtime
        self.index = index if index is not None else open_index(runtime)

    def close(self) -> None:
        """Release the server connection, if any (the embedded shard is never held open)."""
        close = getattr(self.index, "close", None)
        if close is not None:
            close()

    @staticmethod
    def _point(
        redactor: Redactor, group: str, owner: dict[str, str], kind: str, rel: str, path: Path
    ) -> IndexedPoint:
        data = path.read_bytes()
        digest = sha256_hex(data)
        text = redactor.redact_text(data[:MAX_INDEXED_BYTES].decode("utf-8", errors="replace"))
        payload = {"run": group, **owner, "kind": kind, "path": rel, "sha256": digest}
        vector = document_vector(f"{kind} {rel}\n{text}")
        return IndexedPoint(point_id(f"{group}/{rel}", digest), vector, payload)

    def run_points(self, ref: RunRef) -> list[IndexedPoint]:
        run_dir = ref.directory(self.rt.workspace)
        owner = {"project": ref.project, "family": ref.family, "run_id": ref.run_id}
        redactor = self.rt.redactor()
        points = [
            self._point(
                redactor,
                run_key(ref),
                owner,
                source.kind,
                path.relative_to(run_dir).as_posix(),
                path,
            )
            for source in indexed_files()
            for path in source.files(run_dir)
        ]
        return sorted(points, key=lambda p: p.id)

    def policy_points(self) -> list[IndexedPoint]:
        """Every stored policy diff of the workspace (no run owns one)."""
        # Imported here: only this corpus needs the policy monitor's store.
        from autopack.services.policy_monitor.diffs import stored_diff_files

        workspace = self.rt.workspace
        owner = {"project": "", "family": "", "run_id": ""}
        redactor = self.rt.redactor()
        points = [
            self._point(
                redactor,
                POLICY_GROUP,
                owner,
                POLICY_DIFF_KIND,
                workspace_relative(workspace, path),
                path,
            )
            for _, path in stored_diff_files(workspace)
        ]
        return sorted(points, key=lambda p: p.id)

    def index_run(self, ref: RunRef) -> int:
        """(Re)index one run's artifacts and the workspace's policy diffs; returns
        how many of the run's artifacts are indexed."""
        points = self.run_points(ref)
        self.index.replace_runs({run_key(ref): points, POLICY_GROUP: self.policy_points()})
        return len(points)

    def rebuild(self) -> dict[str, int]:
        """Drop the index and index every run directory and policy diff from the files."""
        self.index.reset()
        policy = self.policy_points()
        runs = 0
        artifacts = len(policy)
        batch: dict[str, list[IndexedPoint]] = {POLICY_GROUP: policy}
        for ref in run_directories(self.rt.workspace):
            runs += 1
            batch[run_key(ref)] = points = self.run_points(ref)
            artifacts += len(points)
            if len(batch) >= REBUILD_BATCH:
                self.index.replace_runs(batch)
                batch = {}
        if batch:
            self.index.replace_runs(batch)
        return {"runs": runs, "artifacts": artifacts, "policy_diffs": len(policy)}

    def search(
        self,
        text: str,
        *,
        project: str | None = None,
        limit: int = DEFAULT_LIMIT,
        exclude: RunRef | None = None,
    ) -> list[SearchHit]:
        if not text.strip() or len(text) > MAX_QUERY or not terms(text):
            raise InvalidInputError(
                f"search text must hold at least one word, at most {MAX_QUERY} characters",
                code=ErrorCode.INVALID_QUERY,
            )
        if project is not None:
            validate_identifier("project", project)
        limit = max(1, min(limit, MAX_LIMIT))
        hits = self.index.search(
            query_vector(text),
            limit,
            project=project,
            exclude_run=None if exclude is None else run_key(exclude),
        )
        return [
            SearchHit(
                rank=i + 1,
                score=h.score,
                project=h.payload["project"],
                family=h.payload["family"],
                run_id=h.payload["run_id"],
                kind=h.payload["kind"],
                path=h.payload["path"],
                sha256=h.payload["sha256"],
            )
            for i, h in enumerate(hits)
        ]

    def similar_runs(self, text: str, exclude: RunRef, count: int) -> list[dict[str, Any]]:
        """The ``count`` most similar other runs, each with its best matching artifact."""
        best: dict[tuple[str, str, str], SearchHit] = {}
        for hit in self.search(text, limit=MAX_LIMIT, exclude=exclude):
            if not hit.run_id:
                continue  # a policy diff: no run owns it
            best.setdefault((hit.project, hit.family, hit.run_id), hit)
        chosen = list(best.values())[:count]
        return [
            {
                "rank": i + 1,
                "project": h.project,
                "family": h.family,
                "run_id": h.run_id,
                "kind": h.kind,
                "path": h.path,
                "sha256": h.sha256,
            }
            for i, h in enumerate(chosen)
        ]
