"""Runs service: row + directory + atomic manifest; invalid input leaves nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from autopack.db.models import RunRow
from autopack.domain.errors import ConflictError, InvalidInputError, NotFoundError
from autopack.services.context import Runtime
from autopack.services.runs import RunService


def _count(rt: Runtime) -> int:
    with rt.session_factory() as session:
        return session.scalar(select(func.count()).select_from(RunRow)) or 0


def test_create_writes_row_dir_and_manifest(runtime: Runtime, workspace: Path) -> None:
    fixed = datetime(2026, 11, 24, 1, 2, 3, 456789, tzinfo=UTC)
    runtime.clock = lambda: fixed
    runtime.entropy = lambda n: bytes(range(n))
    record = RunService(runtime).create("demo", "publish")
    assert record.ref.run_id == "20261124-010203-456789-000102"
    run_dir = workspace / ".autonomous_runs/demo/runs/publish" / record.ref.run_id
    assert Path(record.directory) == run_dir
    manifest = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    assert manifest == {
        "schema": "autopack.run/1",
        "project": "demo",
        "family": "publish",
        "run_id": record.ref.run_id,
        "created_at": "2026-11-24T01:02:03.456789Z",
    }
    assert not list(run_dir.glob(".*.tmp"))
    assert RunService(runtime).get(record.ref.run_id) == record


@pytest.mark.parametrize(
    ("project", "family", "run_id"),
    [("../x", "publish", None), ("demo", "a/b", None), ("demo", "f", ""), ("demo", "f", "x" * 65)],
)
def test_invalid_identifiers_create_nothing(
    runtime: Runtime, workspace: Path, project: str, family: str, run_id: str | None
) -> None:
    with pytest.raises(InvalidInputError) as info:
        RunService(runtime).create(project, family, run_id)
    assert info.value.code == "invalid_identifier"
    assert _count(runtime) == 0
    assert not (workspace / ".autonomous_runs").exists() or not any(
        p for p in (workspace / ".autonomous_runs").iterdir() if not p.name.startswith("_")
    )


def test_duplicate_run_id_conflicts_and_keeps_the_first(runtime: Runtime, workspace: Path) -> None:
    service = RunService(runtime)
    first = service.create("demo", "publish", "r1")
    with pytest.raises(ConflictError) as info:
        service.create("other", "family", "r1")
    assert info.value.code == "run_exists"
    assert service.get("r1") == first
    assert _count(runtime) == 1
    assert not (workspace / ".autonomous_runs/other").exists()


def test_existing_directory_rolls_back_the_row(runtime: Runtime, workspace: Path) -> None:
    (workspace / ".autonomous_runs/demo/runs/publish/r9").mkdir(parents=True)
    with pytest.raises(ConflictError):
        RunService(runtime).create("demo", "publish", "r9")
    assert _count(runtime) == 0


def test_list_newest_first_with_filters(runtime: Runtime) -> None:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    ticks = iter(range(100))
    runtime.clock = lambda: base + timedelta(seconds=next(ticks))
    service = RunService(runtime)
    for project, family, run_id in [("a", "f", "r1"), ("a", "g", "r2"), ("b", "f", "r3")]:
        service.create(project, family, run_id)
    assert [r.ref.run_id for r in service.list()] == ["r3", "r2", "r1"]
    assert [r.ref.run_id for r in service.list(project="a")] == ["r2", "r1"]
    assert [r.ref.run_id for r in service.list(family="f")] == ["r3", "r1"]
    assert [r.ref.run_id for r in service.list(limit=1)] == ["r3"]
    with pytest.raises(InvalidInputError):
        service.list(project="../x")


def test_get_unknown_run(runtime: Runtime) -> None:
    with pytest.raises(NotFoundError) as info:
        RunService(runtime).get("nope")
    assert info.value.code == "run_not_found"


def test_created_at_roundtrips_as_aware_utc(runtime: Runtime) -> None:
    record = RunService(runtime).create("demo", "f", "r1")
    fetched = RunService(runtime).get("r1")
    assert fetched.created_at.tzinfo is not None
    assert fetched.created_at == record.created_at
