"""Re-auth tasks: the files that tell a person which account to reconnect and how.

One job: write the deterministic task (``autopack.domain.credentials.reauth_task``)
next to the run tree (``domain.layout.reauth_task_paths``) and remove it when the
account is connected again or removed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from autopack.domain.credentials import TokenFailure, reauth_task
from autopack.domain.layout import reauth_task_paths
from autopack.services.context import Runtime
from autopack.services.fsio import atomic_write_bytes


def task_file(workspace: Path, provider: str, account: str) -> Path:
    """The Markdown re-auth task path for one provider account."""
    return reauth_task_paths(workspace, provider, account)[0]


class ReauthTasks:
    """Task files under the runtime's workspace (read at each call: tests move it)."""

    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime

    def remove(self, provider: str, account: str) -> None:
        for path in reauth_task_paths(self.rt.workspace, provider, account):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def write(self, row: Mapping[str, Any], failure: TokenFailure) -> str:
        """Write the task for ``failure`` atomically; its path relative to the workspace."""
        task = reauth_task(
            provider=row["provider"],
            account=row["account"],
            kind=row["kind"],
            environment=row["environment"],
            failure=failure,
        )
        md_path, json_path = reauth_task_paths(self.rt.workspace, row["provider"], row["account"])
        atomic_write_bytes(json_path, task.json_bytes)
        atomic_write_bytes(md_path, task.markdown_bytes)
        return md_path.relative_to(self.rt.workspace).as_posix()
