"""Dockerfile and docker-compose.yml as the guide says, with a working healthcheck.

That the files validate (schema, shape) is a CI contract: tests/ci/test_container_files.py.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer.main as typer_main
import yaml
from docs_support import REPO, read

from autopack.settings import DEFAULT_PORT, ENV_PREFIX, Settings
from container_support import compose, dockerfile_instructions
from net_support import free_port

GUIDE = "docs/DOCKER_DEPLOYMENT_GUIDE.md"


def _guide_services() -> dict[str, dict[str, str]]:
    """`### service` sections under `## Services`: bullet name -> text."""
    section = read(GUIDE).split("\n## Services\n", 1)[1].split("\n## ", 1)[0]
    services: dict[str, dict[str, str]] = {}
    for chunk in section.split("\n### ")[1:]:
        name, _, body = chunk.partition("\n")
        bullets = re.findall(r"^- (\w+): (.*(?:\n  .*)*)", body, flags=re.MULTILINE)
        services[name.strip()] = {key: " ".join(value.split()) for key, value in bullets}
    return services


def _ticked(text: str) -> list[str]:
    return re.findall(r"`([^`]+)`", text)


def test_guide_describes_exactly_the_compose_services() -> None:
    assert list(_guide_services()) == list(compose()["services"])


@pytest.mark.parametrize("name", ["backend", "worker", "db"])
def test_guide_matches_each_service(name: str) -> None:
    service = compose()["services"][name]
    guide = _guide_services()[name]
    assert _ticked(guide["Image"])[0] == service["image"]
    assert _ticked(guide["Environment"]) == list(service["environment"])
    published = [str(p) for p in service.get("ports", [])]
    assert [t for t in _ticked(guide["Ports"]) if ":" in t] == published
    for port in service.get("expose", []):
        assert f"`{port}`" in guide["Ports"]
    if "command" in service:
        assert _ticked(guide["Command"])[0] == shlex.join(service["command"])
    volumes = [str(v) for v in service.get("volumes", [])]
    assert _ticked(guide["Volumes"]) == volumes


def test_backend_environment_is_made_of_settings() -> None:
    env = compose()["services"]["backend"]["environment"]
    fields = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
    assert set(env) <= fields
    assert env["AUTOPACK_ENV"] == "production"
    assert str(env["AUTOPACK_PORT"]) == str(DEFAULT_PORT)


def test_worker_runs_the_backend_image_on_the_same_database() -> None:
    """Without a worker, approved actions are never sent in the compose set-up."""
    from test_cli_contract import click_parse_error

    from autopack.cli.app import app

    services = compose()["services"]
    worker, backend = services["worker"], services["backend"]
    assert worker["image"] == backend["image"]
    command = worker["command"]
    assert command[:2] == ["autopack", "worker"]
    assert "--reconcile" in command
    assert "--once" not in command
    assert click_parse_error(typer_main.get_command(app), command[1:], "autopack") is None
    # The worker serves no API: it needs no bootstrap key.
    assert "AUTOPACK_API_KEY" not in worker["environment"]
    shared = (
        "AUTOPACK_ENV",
        "AUTOPACK_SECRET_KEY",
        "AUTOPACK_DATABASE_URL",
        # The backend writes notifications, the worker sends them: one webhook.
        "AUTOPACK_NOTIFY_WEBHOOK_URL",
        "AUTOPACK_NOTIFY_FORMAT",
        "AUTOPACK_NOTIFY_SECRET",
    )
    for name in shared:
        assert worker["environment"][name] == backend["environment"][name], name
    assert (
        worker["environment"]["AUTOPACK_WORKSPACE"] == backend["environment"]["AUTOPACK_WORKSPACE"]
    )
    assert set(worker["environment"]) <= {ENV_PREFIX + n.upper() for n in Settings.model_fields}
    assert worker["depends_on"]["backend"]["condition"] == "service_healthy"
    assert worker["healthcheck"] == {"disable": True}


def _healthcheck() -> list[str]:
    args = next(args for word, args in dockerfile_instructions() if word == "HEALTHCHECK")
    command: list[str] = yaml.safe_load(args.split(" CMD ", 1)[1])
    assert command[0] == "python", "the slim image has no curl or wget"
    return command


@pytest.fixture
def server(tmp_path: Path) -> Iterator[int]:
    """`autopack db upgrade && autopack serve` on a free loopback port, as the image does."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
    env.update(AUTOPACK_WORKSPACE=str(tmp_path), AUTOPACK_PORT=str(port), AUTOPACK_API_KEY="h" * 40)
    autopack = str(Path(sys.executable).parent / "autopack")
    subprocess.run(
        [autopack, "db", "upgrade"], env=env, cwd=tmp_path, check=True, capture_output=True
    )
    proc = subprocess.Popen(
        [autopack, "serve"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_the_healthcheck_passes_on_a_healthy_server_and_fails_without_one(server: int) -> None:
    command = _healthcheck()
    env = {**os.environ, "AUTOPACK_PORT": str(server)}
    assert (
        subprocess.run(command, env=env, capture_output=True, timeout=30, check=False).returncode
        == 0
    )
    env["AUTOPACK_PORT"] = str(free_port())
    assert (
        subprocess.run(command, env=env, capture_output=True, timeout=30, check=False).returncode
        != 0
    )


def test_the_copied_files_build_the_package_offline(tmp_path: Path) -> None:
    """What the Dockerfile copies is enough for its no-deps, no-isolation package install."""
    context = tmp_path / "context"
    for word, args in dockerfile_instructions():
        if word != "COPY":
            continue
        *sources, target = args.split()
        for source in sources:
            dest = (
                context / target.removeprefix("./")
                if len(sources) == 1 and target != "./"
                else context / source
            )
            if (REPO / source).is_dir():
                shutil.copytree(REPO / source, dest, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(REPO / source, dest)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-w",
            str(tmp_path / "wheels"),
            str(context),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    wheels = [p.name for p in (tmp_path / "wheels").iterdir()]
    assert len(wheels) == 1
    assert wheels[0].startswith("autopack-")
