"""The repository's files, as git sees them: tracked plus untracked-not-ignored.

Using git's list (not a directory walk) means .gitignore'd build output, venvs
and runtime state never count as "part of the repository".
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import InvalidInputError, UnavailableError


def _git(root: Path, *args: str) -> list[str]:
    git = shutil.which("git")
    if git is None:
        raise UnavailableError("git not found on PATH (the checks use git's list of files)")
    proc = subprocess.run(  # noqa: S603 - fixed git arguments, no shell
        [git, "-c", "core.quotepath=off", *args],
        cwd=root,
        capture_output=True,
        check=False,
    )
    if proc.returncode != 0:
        reason = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise InvalidInputError(
            f"{root}: not a usable git work tree ({reason[0] if reason else 'git failed'})",
            code=ErrorCode.NOT_A_GIT_REPO,
        )
    return [p for p in proc.stdout.decode("utf-8", "surrogateescape").split("\0") if p]


def list_repo_files(root: Path) -> list[str]:
    """Sorted POSIX paths relative to ``root`` of every file in the repository."""
    listed = _git(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    deleted = set(_git(root, "ls-files", "-z", "--deleted"))
    return sorted({p for p in listed if p not in deleted})


def git_dir(root: Path) -> Path:
    """The work tree's git directory (a worktree's own, when ``.git`` is a file)."""
    return Path(_git(root, "rev-parse", "--absolute-git-dir")[0].strip())


def directories_of(files: list[str]) -> set[str]:
    """Every directory that holds a listed file, as ``a/b`` (no trailing slash)."""
    dirs: set[str] = set()
    for path in files:
        parts = path.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            dirs.add("/".join(parts[:i]))
    return dirs
