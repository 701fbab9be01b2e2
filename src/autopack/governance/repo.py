"""The repository's files: git's list in a git work tree, else a directory walk.

In a git work tree (the root holds ``.git`` and git is on PATH) the files are
tracked plus untracked-not-ignored, so ignored build output, venvs and runtime
state never count as "part of the repository". A plain directory (an export,
a tarball) is walked instead, honouring its ``.gitignore`` files the same way.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import InvalidInputError
from autopack.governance.gitignore import IGNORE_FILE, IgnoreRule, is_ignored, parse_rules


def _git(root: Path, *args: str) -> list[str]:
    git = shutil.which("git")
    if git is None:
        raise InvalidInputError(f"{root}: git not found on PATH", code=ErrorCode.NOT_A_GIT_REPO)
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


def is_git_work_tree(root: Path) -> bool:
    """The root is the top of a git work tree (``.git`` dir or file) and git can read it."""
    return (root / ".git").exists() and shutil.which("git") is not None


def list_repo_files(root: Path) -> list[str]:
    """Sorted POSIX paths relative to ``root`` of every file in the repository."""
    if not is_git_work_tree(root):
        return walk_files(root)
    listed = _git(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    deleted = set(_git(root, "ls-files", "-z", "--deleted"))
    return sorted({p for p in listed if p not in deleted})


def walk_files(root: Path) -> list[str]:
    """Every file below ``root`` that its ``.gitignore`` files do not ignore."""
    found: list[str] = []
    rules: list[IgnoreRule] = []

    def walk(directory: Path, prefix: str) -> None:
        ignore_file = directory / IGNORE_FILE
        added = 0
        if ignore_file.is_file():
            text = ignore_file.read_bytes().decode("utf-8", "replace")
            new = parse_rules(text, prefix)
            rules.extend(new)
            added = len(new)
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as exc:
            raise InvalidInputError(
                f"{prefix or '.'}: cannot list: {exc.strerror}", code=ErrorCode.UNREADABLE_FILE
            ) from exc
        for entry in entries:
            rel = prefix + entry.name
            if entry.name == ".git":
                continue
            is_dir = entry.is_dir(follow_symlinks=False)
            if is_ignored(rules, rel, is_dir):
                continue
            if is_dir:
                walk(Path(entry.path), rel + "/")
            else:
                found.append(rel)
        if added:
            del rules[-added:]

    walk(root, "")
    return sorted(found)


def git_dir(root: Path) -> Path | None:
    """The work tree's git directory (a worktree's own, when ``.git`` is a file); None
    for a plain directory."""
    if not is_git_work_tree(root):
        return None
    return Path(_git(root, "rev-parse", "--absolute-git-dir")[0].strip())


def directories_of(files: list[str]) -> set[str]:
    """Every directory that holds a listed file, as ``a/b`` (no trailing slash)."""
    dirs: set[str] = set()
    for path in files:
        parts = path.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            dirs.add("/".join(parts[:i]))
    return dirs
