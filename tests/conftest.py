"""Shared fixtures. Database tests run once per backend: `[sqlite]` and `[postgresql]`.

PostgreSQL comes from AUTOPACK_TEST_PG_URL (the bootstrap's throw-away cluster);
each test gets its own database cloned from a migrated template, so tests never
see each other's rows. Without the URL the postgresql variants skip, except under
CI=true where tests/ci/test_ci_guard.py fails the run.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy.engine import make_url

from autopack.db.engine import create_db_engine
from autopack.db.schema import upgrade
from autopack.services.context import Runtime
from autopack.services.runtime import build_runtime
from autopack.settings import Settings

PG_URL_ENV = "AUTOPACK_TEST_PG_URL"
BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]


def pg_base_url() -> str | None:
    return os.environ.get(PG_URL_ENV) or None


def _admin_conninfo(url: str) -> str:
    parsed = make_url(url).set(drivername="postgresql", database="postgres")
    return parsed.render_as_string(hide_password=False)


def _with_database(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def create_pg_database(template: str | None = None) -> str:
    """A fresh, uniquely named database on the test cluster; returns its URL."""
    base = pg_base_url()
    assert base is not None
    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(_admin_conninfo(base), autocommit=True) as conn:
        suffix = f" TEMPLATE {template}" if template else ""
        conn.execute(f'CREATE DATABASE "{name}"{suffix}')
    return _with_database(base, name)


def drop_pg_database(url: str) -> None:
    base = pg_base_url()
    assert base is not None
    name = make_url(url).database
    with psycopg.connect(_admin_conninfo(base), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    engine = create_db_engine(f"sqlite:///{path.as_posix()}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    if pg_base_url() is None:
        pytest.skip(f"{PG_URL_ENV} not set")
    url = create_pg_database()
    engine = create_db_engine(url)
    upgrade(engine)
    engine.dispose()
    name = make_url(url).database
    assert name is not None
    yield name
    drop_pg_database(url)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    if name == "postgresql" and pg_base_url() is None:
        pytest.skip(f"{PG_URL_ENV} not set")
    return name


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of a migrated, empty database on the current backend."""
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp_path / "db" / "autopack.db"
        target.parent.mkdir()
        shutil.copyfile(template, target)
        yield f"sqlite:///{target.as_posix()}"
        return
    url = create_pg_database(request.getfixturevalue("pg_template"))
    yield url
    drop_pg_database(url)


@pytest.fixture
def empty_database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """URL of a database with no schema at all (for upgrade/refusal tests)."""
    if backend == "sqlite":
        yield f"sqlite:///{(tmp_path / 'empty' / 'autopack.db').as_posix()}"
        return
    url = create_pg_database()
    yield url
    drop_pg_database(url)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    path = tmp_path / "ws"
    path.mkdir()
    return path


def make_settings(workspace: Path, database_url: str, **extra: Any) -> Settings:
    """Settings from arguments only: no environment file is read."""
    values: dict[str, Any] = {"workspace": workspace, "database_url": database_url, **extra}
    return Settings(_env_file=None, **values)


@pytest.fixture
def settings(workspace: Path, database_url: str) -> Settings:
    return make_settings(workspace, database_url, api_key="test-key-" + "k" * 40)


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    rt = build_runtime(settings)
    yield rt
    rt.close()


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, workspace: Path, database_url: str) -> Path:
    """Point the in-process CLI at this test's workspace and database."""
    for key in list(os.environ):
        if key.startswith("AUTOPACK_") and key != PG_URL_ENV:
            monkeypatch.delenv(key)
    monkeypatch.setenv("AUTOPACK_WORKSPACE", str(workspace))
    monkeypatch.setenv("AUTOPACK_DATABASE_URL", database_url)
    monkeypatch.chdir(workspace)  # no stray .env is read
    return workspace


def invoke_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run `autopack ARGS` in-process; returns (exit code, stdout, stderr)."""
    from autopack.cli import main

    capsys.readouterr()
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Show, per backend, how many database tests passed/failed/skipped.

    CI logs must prove the same tests ran on SQLite and on PostgreSQL.
    """
    counts: dict[str, dict[str, int]] = {}
    for outcome in ("passed", "failed", "skipped", "error"):
        for report in terminalreporter.stats.get(outcome, []):
            nodeid = getattr(report, "nodeid", "")
            for name in ("sqlite", "postgresql"):
                if f"[{name}]" in nodeid or f"[{name}-" in nodeid or f"-{name}]" in nodeid:
                    bucket = counts.setdefault(name, {})
                    bucket[outcome] = bucket.get(outcome, 0) + 1
    if not counts:
        return
    terminalreporter.section("database backends")
    for name in ("sqlite", "postgresql"):
        parts = ", ".join(f"{n} {o}" for o, n in sorted(counts.get(name, {}).items()))
        terminalreporter.write_line(f"{name}: {parts or 'none'}")


def principal_headers(runtime: Runtime, name: str, role: str) -> dict[str, str]:
    """X-API-Key headers of a new principal (created as the command line would)."""
    from autopack.domain.principals import cli_actor
    from autopack.services.principals import PrincipalService

    token = PrincipalService(runtime).add(name, role=role, actor=cli_actor("test-admin"))["api_key"]
    return {"X-API-Key": token}
