"""Exit codes (README "Exit codes", cli/_common.py EXIT_CODES): an unusable database
is 3 with the workspace and the fix named; a missing embedded database is never
created by accident; an unexpected crash is 4, never 1 ("check failed")."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from autopack.cli._common import (
    EXIT_CHECK_FAILED,
    EXIT_INTERNAL_ERROR,
    EXIT_MEANINGS,
    EXIT_UNAVAILABLE,
    exit_for,
)
from autopack.domain.errors import CheckFailedError
from conftest import invoke_cli
from net_support import free_port


def _commands(workspace: Path) -> list[list[str]]:
    payload = workspace / "payload.json"
    payload.write_text('{"title": "x"}', encoding="utf-8")
    return [
        ["runs", "list"],
        ["approvals", "list"],
        ["actions", "list"],
        ["actions", "show", "k1"],
        ["actions", "verify-chain"],
        [
            "actions",
            "propose",
            "--provider",
            "sandbox",
            "--action",
            "video.upload",
            "--key",
            "k1",
            "--payload",
            str(payload),
        ],
    ]


def _point_at(monkeypatch: pytest.MonkeyPatch, workspace: Path, url: str | None) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("AUTOPACK_") and key != "AUTOPACK_TEST_PG_URL":
            monkeypatch.delenv(key)
    monkeypatch.setenv("AUTOPACK_WORKSPACE", str(workspace))
    if url is not None:
        monkeypatch.setenv("AUTOPACK_DATABASE_URL", url)
    monkeypatch.chdir(workspace)


def test_unreachable_database_is_exit_3_naming_the_workspace(
    workspace: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"postgresql+psycopg://autopack:pw-not-shown@127.0.0.1:{free_port()}/autopack"
    _point_at(monkeypatch, workspace, url)
    for argv in _commands(workspace):
        code, out, err = invoke_cli(argv, capsys)
        assert code == EXIT_UNAVAILABLE, (argv, out, err)
        assert err.startswith("error: database unavailable"), err
        assert len(err.strip().splitlines()) == 1, err
        assert str(workspace) in err
        assert "pw-not-shown" not in err
        assert "internal error" not in err


def test_database_without_schema_is_exit_3_with_the_fix(
    backend: str,
    empty_database_url: str,
    workspace: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if backend == "sqlite":  # an existing file with no tables (not a missing one)
        path = Path(empty_database_url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True)
        path.touch()
    _point_at(monkeypatch, workspace, empty_database_url)
    for argv in _commands(workspace):
        code, _, err = invoke_cli(argv, capsys)
        assert code == EXIT_UNAVAILABLE, (argv, err)
        assert "autopack db upgrade" in err, err
        assert str(workspace) in err


def test_outside_a_workspace_nothing_is_created_and_the_fix_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stray = tmp_path / "not-a-workspace"
    stray.mkdir()
    _point_at(monkeypatch, stray, None)
    monkeypatch.delenv("AUTOPACK_WORKSPACE")  # the default: the current directory
    for argv in [*_commands(stray), ["db", "check"], ["credentials", "list"]]:
        code, _, err = invoke_cli(argv, capsys)
        assert code == EXIT_UNAVAILABLE, (argv, err)
        assert err.startswith("error: no Autopack database at "), err
        assert f"(workspace {stray.resolve()})" in err
        assert "autopack db upgrade" in err
        assert not (stray / ".autonomous_runs").exists(), argv
    code, _, err = invoke_cli(["db", "upgrade"], capsys)
    assert code == 0, err
    assert (stray / ".autonomous_runs" / "_autopack" / "autopack.db").is_file()
    code, out, err = invoke_cli(["actions", "list"], capsys)
    assert (code, out.strip()) == (0, "no actions"), err


def test_serve_outside_a_workspace_creates_nothing(tmp_path: Path) -> None:
    import os

    stray = tmp_path / "empty-dir"
    stray.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOPACK_")}
    result = subprocess.run(
        [sys.executable, "-c", "from autopack.cli import main; main()", "serve", "--port", "1"],
        env=env,
        cwd=stray,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == EXIT_UNAVAILABLE, result.stderr
    assert "autopack db upgrade" in result.stderr
    assert "Traceback" not in result.stderr
    assert list(stray.iterdir()) == []


def test_an_unexpected_crash_is_exit_4_not_check_failed(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from autopack.services.ledger import LedgerService

    def crash(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(LedgerService, "page", crash)  # what `actions list` calls
    code, _, err = invoke_cli(["actions", "list"], capsys)
    assert code == EXIT_INTERNAL_ERROR
    assert err.strip() == "internal error: RuntimeError: boom"


def test_exit_mapping_keeps_check_failed_distinct() -> None:
    assert exit_for(CheckFailedError("chain broken"))[0] == EXIT_CHECK_FAILED
    assert exit_for(ValueError("bug"))[0] == EXIT_INTERNAL_ERROR
    codes = [code for code, _ in EXIT_MEANINGS]
    assert codes == sorted(set(codes))
    assert EXIT_INTERNAL_ERROR != EXIT_CHECK_FAILED
