"""Runs: a database row plus a run directory with an atomically written run.json."""

from __future__ import annotations

import contextlib
import shutil
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from autopack.db.models import RunRow
from autopack.domain.canonical import canonical_json, format_utc
from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import ConflictError, NotFoundError
from autopack.domain.layout import RunRef, new_run_id, validate_identifier
from autopack.services.context import Runtime
from autopack.services.fsio import atomic_write_bytes

MANIFEST_SCHEMA = "autopack.run/1"
DEFAULT_LIST_LIMIT = 100
MAX_LIST_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class RunRecord:
    ref: RunRef
    created_at: datetime
    directory: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.ref.run_id,
            "project": self.ref.project,
            "family": self.ref.family,
            "created_at": format_utc(self.created_at),
            "directory": self.directory,
        }


def manifest_bytes(ref: RunRef, created_at: datetime) -> bytes:
    body = {
        "schema": MANIFEST_SCHEMA,
        "project": ref.project,
        "family": ref.family,
        "run_id": ref.run_id,
        "created_at": created_at,
    }
    return canonical_json(body) + b"\n"


class RunService:
    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime

    def _record(self, row: RunRow) -> RunRecord:
        ref = RunRef(row.project, row.family, row.run_id)
        return RunRecord(
            ref=ref, created_at=row.created_at, directory=str(ref.directory(self._rt.workspace))
        )

    def create(self, project: str, family: str, run_id: str | None = None) -> RunRecord:
        """Validate everything first; on any failure nothing is left behind."""
        validate_identifier("project", project)
        validate_identifier("family", family)
        now = self._rt.clock()
        ref = RunRef(
            project, family, run_id if run_id is not None else new_run_id(now, self._rt.entropy(8))
        )
        directory = ref.directory(self._rt.workspace)
        with self._rt.session_factory() as session:
            if session.get(RunRow, ref.run_id) is not None:
                raise ConflictError(f"run {ref.run_id!r} already exists", code=ErrorCode.RUN_EXISTS)
            row = RunRow(run_id=ref.run_id, project=project, family=family, created_at=now)
            session.add(row)
            try:
                session.flush()
            except IntegrityError as exc:
                raise ConflictError(
                    f"run {ref.run_id!r} already exists", code=ErrorCode.RUN_EXISTS
                ) from exc
            try:
                directory.mkdir(parents=True, exist_ok=False)
            except FileExistsError as exc:
                raise ConflictError(
                    f"run directory already exists: {directory}", code=ErrorCode.RUN_EXISTS
                ) from exc
            try:
                atomic_write_bytes(ref.manifest_path(self._rt.workspace), manifest_bytes(ref, now))
                session.commit()
            except BaseException:
                with contextlib.suppress(OSError):
                    shutil.rmtree(directory)
                raise
            return self._record(row)

    def get(self, run_id: str) -> RunRecord:
        validate_identifier("run_id", run_id)
        with self._rt.session_factory() as session:
            row = session.get(RunRow, run_id)
            if row is None:
                raise NotFoundError(f"no run {run_id!r}", code=ErrorCode.RUN_NOT_FOUND)
            return self._record(row)

    def list(
        self, project: str | None = None, family: str | None = None, limit: int = DEFAULT_LIST_LIMIT
    ) -> list[RunRecord]:
        """Newest first."""
        limit = max(1, min(limit, MAX_LIST_LIMIT))
        query = select(RunRow)
        if project is not None:
            query = query.where(RunRow.project == validate_identifier("project", project))
        if family is not None:
            query = query.where(RunRow.family == validate_identifier("family", family))
        query = query.order_by(RunRow.created_at.desc(), RunRow.run_id.desc()).limit(limit)
        with self._rt.session_factory() as session:
            return [self._record(row) for row in session.scalars(query)]
