"""CI runs exactly the README's test command, and the locks install only what they pin."""

from __future__ import annotations

import re
import shlex

import pytest
from ci_support import REPO, read

from autopack.governance.contracts import shell_lines
from autopack.governance.markdown import parse_markdown

LOCKS = ["requirements.lock.txt", "requirements-dev.lock.txt"]
_REQUIREMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[^\]]*\])?==\S+")


def _without_interpreter(command: str) -> list[str]:
    argv = shlex.split(command)
    assert argv[0] in ("python", "python3", "py"), command
    return argv[1:]


def test_ci_runs_the_readme_test_command() -> None:
    quickstart = read("README.md").split("\n## Quickstart\n", 1)[1].split("\n## ", 1)[0]
    commands = [text for _, text in shell_lines(parse_markdown(quickstart))]
    test_commands = [c for c in commands if c.split()[-1] == "test"]
    assert len(test_commands) == 1, commands
    lines = [line.strip() for line in read(".ci/run").splitlines()]
    execs = [line.removeprefix("exec ") for line in lines if line.startswith("exec ")]
    assert len(execs) == 1, "the CI script ends by exec-ing one command"
    assert _without_interpreter(execs[0]) == _without_interpreter(test_commands[0])
    assert lines[0] == "#!/usr/bin/env bash"
    assert "set -euo pipefail" in lines


def _requirements(text: str) -> list[list[str]]:
    """Each requirement with its continuation lines."""
    blocks: list[list[str]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if raw[:1].isspace() and blocks:
            blocks[-1].append(line)
        else:
            blocks.append([line])
    return blocks


@pytest.mark.parametrize("lock", LOCKS)
def test_every_locked_requirement_is_pinned_with_hashes(lock: str) -> None:
    blocks = _requirements(read(lock))
    assert len(blocks) > 10
    for block in blocks:
        assert _REQUIREMENT.match(block[0]), f"{lock}: not an exact pin: {block[0]}"
        hashes = [part for part in block if part.startswith("--hash=sha256:")]
        assert hashes, f"{lock}: {block[0]} has no hash"


@pytest.mark.parametrize("lock", LOCKS)
def test_locks_name_no_index_or_url(lock: str) -> None:
    text = read(lock)
    assert "http://" not in text
    assert "https://" not in text
    for option in ("--index-url", "--extra-index-url", "--find-links", "--trusted-host", "-i "):
        assert option not in text, f"{lock} names a package source ({option})"


def test_the_lock_checks_catch_a_bad_lock() -> None:
    bad = "alembic==1.0 \\\n    # via x\nfastapi>=0.1 \\\n    --hash=sha256:00\n"
    blocks = _requirements(bad)
    assert not any(p.startswith("--hash=") for p in blocks[0])
    assert _REQUIREMENT.match(blocks[1][0]) is None
    assert (REPO / ".ci" / "run").is_file()
