"""The one write path for everything under a run's ``handoff/`` directory.

Every handoff file (context, briefs, outputs, rejected outputs and their
reasons) is written here: atomically (``services.fsio``), at a path the run
layout computes, and never through a symlink that leads out of ``handoff/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from autopack.domain.canonical import canonical_json
from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import InvalidInputError
from autopack.domain.layout import HANDOFF_DIR, RunRef, handoff_path
from autopack.services.fsio import atomic_write_bytes
from autopack.services.fsio import resolves_inside as inside


class HandoffFiles:
    """Reads and atomic writes under one run's ``handoff/``."""

    def __init__(self, workspace: Path, ref: RunRef) -> None:
        self.workspace = workspace
        self.ref = ref
        self.run_dir = ref.directory(workspace)
        self.root = self.run_dir / HANDOFF_DIR

    def path(self, *parts: str) -> Path:
        return handoff_path(self.workspace, self.ref, *parts)

    def relative(self, path: Path) -> str:
        """``path`` relative to the run directory, POSIX form (as briefs cite it)."""
        return path.relative_to(self.run_dir).as_posix()

    def write_bytes(self, data: bytes, *parts: str) -> Path:
        target = self.path(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        # A symlinked directory or file would carry the write out of the run.
        if (
            not inside(self.root, self.run_dir)
            or not inside(target.parent, self.root)
            or target.is_symlink()
        ):
            raise InvalidInputError(
                f"refusing to write through a symlink: {self.relative(target)}",
                code=ErrorCode.PATH_ESCAPES_RUN,
            )
        atomic_write_bytes(target, data)
        return target

    def write_text(self, text: str, *parts: str) -> Path:
        return self.write_bytes(text.encode("utf-8"), *parts)

    def write_json(self, document: Any, *parts: str) -> Path:
        return self.write_bytes(canonical_json(document) + b"\n", *parts)

    def read_bytes(self, *parts: str) -> bytes | None:
        target = self.path(*parts)
        if not target.is_file() or not inside(target, self.root):
            return None
        return target.read_bytes()

    def names(self, *parts: str, suffix: str) -> list[str]:
        """File names in a handoff subdirectory with ``suffix``, sorted."""
        directory = self.root.joinpath(*parts)
        if not directory.is_dir() or not inside(directory, self.root):
            return []
        return sorted(
            p.name for p in directory.iterdir() if p.name.endswith(suffix) and p.is_file()
        )
