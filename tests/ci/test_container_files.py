"""Compose and Dockerfiles validate: the compose file against the Compose spec, the
Dockerfile's instructions and shape (pinned base, hash-checked install, non-root)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml
from ci_support import REPO, registry

from autopack.settings import DEFAULT_PORT
from container_support import compose, dockerfile_instructions

# Every instruction of the Dockerfile reference.
DOCKERFILE_INSTRUCTIONS = frozenset(
    [
        "ADD",
        "ARG",
        "CMD",
        "COPY",
        "ENTRYPOINT",
        "ENV",
        "EXPOSE",
        "FROM",
        "HEALTHCHECK",
        "LABEL",
        "MAINTAINER",
        "ONBUILD",
        "RUN",
        "SHELL",
        "STOPSIGNAL",
        "USER",
        "VOLUME",
        "WORKDIR",
    ]
)


def test_every_dockerfile_line_is_a_known_instruction() -> None:
    unknown = [word for word, _ in dockerfile_instructions() if word not in DOCKERFILE_INSTRUCTIONS]
    assert unknown == []


def test_compose_validates_against_the_compose_schema() -> None:
    tool = Path(sys.executable).parent / ("check-jsonschema" + (".exe" if os.name == "nt" else ""))
    compose = registry().compose
    assert compose is not None
    proc = subprocess.run(
        [str(tool), "--builtin-schema", "vendor.compose-spec", str(REPO / compose.file)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_dockerfile_shape() -> None:
    steps = dockerfile_instructions()
    words = [word for word, _ in steps]
    assert steps[0] == ("FROM", "python:3.11-slim")
    runs = [args for word, args in steps if word == "RUN"]
    assert "pip install --require-hashes -r requirements.lock.txt" in runs
    assert any("pip install --no-deps" in args for args in runs)
    user = [args for word, args in steps if word == "USER"]
    assert user
    assert user[-1] not in ("root", "0")
    assert words.index("USER") < words.index("CMD")
    assert [args for word, args in steps if word == "EXPOSE"] == [str(DEFAULT_PORT)]
    for word, args in steps:
        if word == "COPY":
            *sources, _ = args.split()
            assert all((REPO / s).exists() for s in sources), args
    compose_cmd = compose()["services"]["backend"]["command"]
    cmd = next(args for word, args in steps if word == "CMD")
    assert yaml.safe_load(cmd) == compose_cmd
