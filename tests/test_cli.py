"""The CLI in-process: exit codes, ASCII output, nothing created on bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer.main

import autopack.cli
from autopack.cli.app import COMMANDS, app, load_command
from conftest import invoke_cli


def _all_command_paths() -> list[list[str]]:
    # Typer vendors its own click: groups are recognised by their `commands`.
    paths: list[list[str]] = []

    def walk(command: Any, prefix: list[str]) -> None:
        paths.append(prefix)
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            walk(sub, [*prefix, name])

    walk(typer.main.get_command(app), [])
    return paths


def test_the_walk_reaches_nested_commands() -> None:
    paths = _all_command_paths()
    assert ["runs", "new"] in paths
    assert ["db", "check"] in paths


@pytest.mark.parametrize("path", _all_command_paths(), ids=lambda p: " ".join(p) or "autopack")
def test_every_command_has_ascii_help(path: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = invoke_cli([*path, "--help"], capsys)
    assert code == 0, err
    assert out.startswith("Usage: autopack")
    out.encode("ascii")
    assert len(out.splitlines()) > 3


def test_runs_new_list_show(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = invoke_cli(["runs", "new", "--project", "demo", "--family", "publish"], capsys)
    assert code == 0
    run_dir = Path(out.strip())
    assert run_dir.parent == cli_env.resolve() / ".autonomous_runs/demo/runs/publish"
    assert (run_dir / "run.json").is_file()
    run_id = run_dir.name
    code, out, _ = invoke_cli(["runs", "list"], capsys)
    assert code == 0
    assert run_id in out
    assert "demo/publish" in out
    code, out, _ = invoke_cli(["runs", "show", run_id, "--json"], capsys)
    assert code == 0
    assert json.loads(out)["run_id"] == run_id
    code, out, _ = invoke_cli(["runs", "show", run_id], capsys)
    assert f"run_id: {run_id}" in out


@pytest.mark.parametrize(
    "args",
    [
        ["--project", "../x", "--family", "publish"],
        ["--project", "demo", "--family", "a/b"],
        ["--project", "", "--family", "publish"],
        ["--project", "x" * 65, "--family", "publish"],
        ["--project", "demo", "--family", "publish", "--run-id", "../../etc"],
    ],
)
def test_runs_new_invalid_exits_2_and_creates_nothing(
    cli_env: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    code, out, err = invoke_cli(["runs", "new", *args], capsys)
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: invalid ")
    assert "lowercase letters" in lines[0]
    runs_root = cli_env / ".autonomous_runs"
    assert not runs_root.exists() or [p.name for p in runs_root.iterdir()] == ["_autopack"]
    assert invoke_cli(["runs", "list", "--json"], capsys)[1].strip() == "[]"


def test_runs_show_unknown_exits_2(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = invoke_cli(["runs", "show", "nope"], capsys)
    assert code == 2
    assert err.strip() == "error: no run 'nope'"


def test_usage_errors_exit_2(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert invoke_cli(["runs", "new", "--project", "demo"], capsys)[0] == 2
    assert invoke_cli(["no-such-command"], capsys)[0] == 2


def test_db_check_and_upgrade(
    cli_env: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    empty_database_url: str,
    backend: str,
) -> None:
    code, out, _ = invoke_cli(["db", "check"], capsys)
    assert code == 0
    assert out.startswith("ok: database at head")
    monkeypatch.setenv("AUTOPACK_DATABASE_URL", empty_database_url)
    code, _, err = invoke_cli(["db", "check"], capsys)
    # A missing SQLite file is not created by `db check` (exit 3, unavailable); an
    # existing PostgreSQL database without the schema fails the check (exit 1).
    assert code == (3 if backend == "sqlite" else 1)
    assert "autopack db upgrade" in err
    code, out, _ = invoke_cli(["db", "upgrade"], capsys)
    assert code == 0
    assert "(head)" in out
    assert invoke_cli(["db", "check"], capsys)[0] == 0


def test_unreachable_database_exits_3(
    cli_env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTOPACK_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    code, _, err = invoke_cli(["db", "check"], capsys)
    assert code == 3
    assert err.startswith("error: database unreachable")


def test_bad_setting_exits_2(
    cli_env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTOPACK_PORT", "not-a-port")
    code, _, err = invoke_cli(["runs", "list"], capsys)
    assert code == 2
    assert err.startswith("error: AUTOPACK_PORT:")


def test_non_ascii_values_are_escaped(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = invoke_cli(["runs", "show", "caf\u00e9"], capsys)
    assert code == 2
    err.encode("ascii")
    assert "caf\\xe9" in err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = invoke_cli(["--version"], capsys)
    assert code == 0
    assert out.startswith("autopack ")


def _modules_loaded_by(argv: list[str]) -> set[str]:
    """Every module a fresh interpreter has imported once it ran ``autopack argv``."""
    script = (
        "import json, sys\n"
        "from autopack.cli import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    return set(json.loads(proc.stdout.strip().splitlines()[-1]))


def test_a_command_imports_only_what_it_uses() -> None:
    # Start-up time is import time: `actions` must not pay for the web server,
    # the docs checker or the fake servers, and `--version` for no database at all.
    loaded = _modules_loaded_by(["actions", "list", "--help"])
    assert "autopack.cli.actions" in loaded
    for heavy in (
        "fastapi",
        "uvicorn",
        "autopack.api",
        "autopack.governance",
        "autopack.cli.serve",
    ):
        assert heavy not in loaded, heavy
    loaded = _modules_loaded_by(["--version"])
    for heavy in ("sqlalchemy", "autopack.services", "autopack.cli.actions"):
        assert heavy not in loaded, heavy


def test_every_cli_module_is_a_registered_command() -> None:
    # A new command module that is not in COMMANDS would never load.
    package = Path(autopack.cli.__file__).parent
    modules = {p.stem for p in package.glob("*.py")} - {"__init__", "app", "_common"}
    registered = {target.split(":")[0].rsplit(".", 1)[1] for target in COMMANDS.values()}
    assert registered == modules
    root: Any = typer.main.get_command(app)
    assert list(root.commands) == list(COMMANDS)
    for name in COMMANDS:
        assert load_command(name).name == name


def test_worker_refuses_a_schema_behind_head(
    cli_env: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    empty_database_url: str,
) -> None:
    if empty_database_url.startswith("sqlite:///"):  # an existing file without the schema
        path = Path(empty_database_url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True)
        path.touch()
    monkeypatch.setenv("AUTOPACK_DATABASE_URL", empty_database_url)
    code, out, err = invoke_cli(["worker", "--once"], capsys)
    assert code == 3
    assert err.startswith("error: database schema is at empty")
    assert "autopack db upgrade" in err
    assert out == ""
