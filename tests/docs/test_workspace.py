"""Workspace verifier: top-level allowlist, placement globs, forbidden files, the run tree."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from docs_support import make_repo, minimal_registry, run_cli

WORKSPACE: dict[str, Any] = {
    "top_level": [".gitignore", "README.md", "docs/", "src/"],
    "directories": {"docs/": ["*.md", "PROJECT_INDEX.json"], "src/": ["pkg/**"]},
    "forbidden": ["**/*.db", ".env"],
}
FILES = {
    ".gitignore": ".autonomous_runs/\n",
    "README.md": "# R\n",
    "docs/NOTES.md": "# Notes\n",
    "src/pkg/a.py": "",
    "src/pkg/sub/b.py": "",
}


def _repo(
    tmp_path: Path, workspace: dict[str, Any] | None = None, files: dict[str, str] | None = None
) -> Path:
    reg = minimal_registry(workspace=workspace or WORKSPACE)
    return make_repo(tmp_path, {**FILES, **(files or {})}, reg)


def _verify(capsys: pytest.CaptureFixture[str], root: Path) -> tuple[int, str]:
    code, out, _ = run_cli(capsys, "workspace", "verify", "--root", str(root))
    return code, out


def test_clean_repository_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _verify(capsys, _repo(tmp_path))
    assert (code, out.strip()) == (0, "workspace: ok (files 6, runs 0, top_level 4)")


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"notes.txt": "x"}, "notes.txt:1:1: WS-TOP-LEVEL unknown top-level entry 'notes.txt'"),
        ({"tmp/x.py": ""}, "tmp/x.py:1:1: WS-TOP-LEVEL unknown top-level entry 'tmp/'"),
        ({"docs/x.txt": ""}, "docs/x.txt:1:1: WS-PLACEMENT 'x.txt' is not allowed under docs/"),
        (
            {"src/other.py": ""},
            "src/other.py:1:1: WS-PLACEMENT 'other.py' is not allowed under src/",
        ),
        ({"src/pkg/state.db": ""}, "src/pkg/state.db:1:1: WS-FORBIDDEN matches forbidden pattern"),
    ],
)
def test_misplaced_files_fail(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: dict[str, str], expected: str
) -> None:
    code, out = _verify(capsys, _repo(tmp_path, files=extra))
    assert code == 1
    assert expected in out


def test_tracked_ignored_file_is_still_seen(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _repo(tmp_path, files={".env": "SECRET=1", ".gitignore": ".env\n"})
    assert _verify(capsys, root)[0] == 0  # ignored and untracked: not part of the repository
    subprocess.run(["git", "-C", str(root), "add", "-f", ".env"], check=True)
    code, out = _verify(capsys, root)
    assert code == 1
    assert ".env:1:1: WS-FORBIDDEN" in out
    assert ".env:1:1: WS-TOP-LEVEL" in out


def test_allowlist_entries_that_match_nothing_fail(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workspace = {
        "top_level": [".gitignore", "README.md", "bench/", "docs/", "src/"],
        "directories": {"docs/": ["*.md", "*.txt", "PROJECT_INDEX.json"], "src/": ["pkg/**"]},
    }
    code, out = _verify(capsys, _repo(tmp_path, workspace))
    assert code == 1
    assert "RATCHET-STALE workspace.top_level: 'bench/' matches nothing" in out
    assert "RATCHET-STALE workspace.directories[docs/]: '*.txt' matches nothing" in out


def test_unsorted_or_duplicate_allowlist_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workspace = {**WORKSPACE, "top_level": ["README.md", ".gitignore", "docs/", "src/", "src/"]}
    code, out = _verify(capsys, _repo(tmp_path, workspace))
    assert code == 1
    assert (
        "RATCHET-UNSORTED workspace.top_level is not sorted (first out of place: 'README.md')"
        in out
    )
    assert "RATCHET-DUPLICATE workspace.top_level: 'src/' is listed twice" in out


def _run_dir(root: Path, *parts: str, manifest: bool = True) -> None:
    path = root.joinpath(".autonomous_runs", *parts)
    path.mkdir(parents=True)
    if manifest:
        (path / "run.json").write_text("{}", encoding="utf-8")


def test_run_tree_follows_the_layout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _repo(tmp_path)
    _run_dir(root, "demo", "runs", "publish", "20261124-010203-123456-a1b2c3")
    (root / ".autonomous_runs" / "_autopack").mkdir()
    (root / ".autonomous_runs" / "_autopack" / "autopack.db").write_text("", encoding="utf-8")
    (root / ".autonomous_runs" / "demo" / "policy.json").write_text("{}", encoding="utf-8")
    code, out = _verify(capsys, root)
    assert (code, "runs 1" in out) == (0, True), out


@pytest.mark.parametrize(
    ("parts", "manifest", "expected"),
    [
        (("demo", "20261124-010203-123456-a1b2c3"), True, ".autonomous_runs/demo/20261124-010203"),
        (("demo", "runs", "publish", "Bad_Id"), True, "invalid run_id 'Bad_Id'"),
        (("Demo", "runs", "publish", "r1"), True, "invalid project 'Demo'"),
        (("demo", "runs", "publish", "r1"), False, "run directory without run.json"),
    ],
)
def test_run_tree_violations_fail(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    parts: tuple[str, ...],
    manifest: bool,
    expected: str,
) -> None:
    root = _repo(tmp_path)
    _run_dir(root, *parts, manifest=manifest)
    code, out = _verify(capsys, root)
    assert code == 1
    assert "WS-RUN-LAYOUT" in out
    assert expected in out


def test_a_plain_directory_is_checked_without_git(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _repo(tmp_path)
    subprocess.run(["rm", "-rf", str(root / ".git")], check=True)
    (root / "notes.txt").write_text("x\n", encoding="utf-8")
    code, out, err = run_cli(capsys, "workspace", "verify", "--root", str(root))
    assert (code, err) == (1, "")
    assert "notes.txt:1:1: WS-TOP-LEVEL unknown top-level entry 'notes.txt'" in out
