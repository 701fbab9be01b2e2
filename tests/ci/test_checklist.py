"""The pre-PR checklist in docs/CONTRIBUTING.md runs verbatim on this repository.

The scripts run for real. The pytest commands run with ``--collect-only``:
running the whole suite from inside the suite would recurse (this file is in
tests/ci/) and double CI's time, while collecting proves what can break a
verbatim command: the paths exist, every test module imports, and every marker
of the ``-m`` expression is registered (pytest refuses unknown ones).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys

import pytest
from ci_support import REPO, read

from autopack.governance.contracts import shell_lines
from autopack.governance.markdown import parse_markdown

DOC = "docs/CONTRIBUTING.md"
# The checklist as the issue that introduced it states it, word for word.
CHECKLIST = [
    "python scripts/check_docs_drift.py",
    "python scripts/tidy/sot_summary_refresh.py --check",
    "pytest -q tests/docs/",
    "pytest -q tests/ci/",
    'pytest tests/ -m "not research and not aspirational and not legacy_contract"',
    "python scripts/check_doc_links.py",
    "python scripts/tidy/verify_workspace_structure.py",
]


def _checklist() -> list[str]:
    section = read(DOC).split("\n## Pre-PR checklist\n", 1)[1].split("\n## ", 1)[0]
    return [text for _, text in shell_lines(parse_markdown(section))]


def test_the_published_checklist_is_the_agreed_one() -> None:
    assert _checklist() == CHECKLIST


def _argv(command: str) -> list[str]:
    program, *args = shlex.split(command)
    if program == "python":
        return [sys.executable, *args]
    assert program == "pytest", command
    return [sys.executable, "-m", "pytest", *args, "--collect-only", "-p", "no:cacheprovider"]


@pytest.mark.parametrize("command", CHECKLIST)
def test_each_checklist_command_runs(command: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOPACK_")}
    proc = subprocess.run(
        _argv(command), cwd=REPO, env=env, capture_output=True, timeout=300, check=False
    )
    output = (proc.stdout + proc.stderr).decode(errors="replace")
    assert proc.returncode == 0, output
    if command.startswith("pytest"):
        assert " collected" in output or "tests collected" in output, output


def test_an_unknown_marker_would_break_the_command() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/ci/", "-m", "not no_such_marker", "--co", "-q"],
        cwd=REPO,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode != 0
    assert b"no_such_marker" in proc.stdout + proc.stderr
