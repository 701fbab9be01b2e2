"""Shared set-up for the handoff and run-memory tests: runs with fixed facts."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from autopack.domain.layout import RunRef
from autopack.services.context import Runtime
from autopack.services.ledger import LedgerService
from autopack.services.ledger.records import IntentRequest
from autopack.services.packet_refs import packet_service
from autopack.services.packets import BuiltPacket
from autopack.services.runs import RunService
from autopack.services.runtime import build_runtime
from conftest import create_pg_database, drop_pg_database, make_settings, pg_base_url

FIXED = datetime(2026, 11, 24, 1, 2, 3, tzinfo=UTC)
STORED_SECRET = "s3cr3t-Stored-Value-9x7Q"


def fix_clock(rt: Runtime) -> None:
    rt.clock = lambda: FIXED


def new_run(rt: Runtime, run_id: str, project: str = "demo", family: str = "research") -> RunRef:
    return RunService(rt).create(project, family, run_id).ref


def propose(rt: Runtime, run_id: str, key: str, title: str = "Hello") -> None:
    LedgerService(rt).propose(
        IntentRequest(
            provider="sandbox",
            action="video.upload",
            account="main",
            key=key,
            payload={"title": title, "tags": ["a"]},
            run_id=run_id,
        )
    )


def run_dir(rt: Runtime, ref: RunRef) -> Path:
    return ref.directory(rt.workspace)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def output_for(rt: Runtime, ref: RunRef, brief: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A valid output for ``brief`` citing the run's context; ``changes`` override fields."""
    directory = run_dir(rt, ref)
    brief_file = directory / "handoff" / "briefs" / f"{brief['id']}.json"
    context = directory / "handoff" / "context.md"
    document: dict[str, Any] = {
        "schema": "autopack.handoff-output/1",
        "brief_id": brief["id"],
        "brief_sha256": sha(brief_file),
        "summary": "The goal is stated in the context.",
        "findings": [
            {
                "claim": "The context names the goal.",
                "evidence": [{"path": "handoff/context.md", "sha256": sha(context)}],
            }
        ],
        "proposed_actions": [],
        "open_questions": ["Which channel should it go to?"],
        "confidence": "medium",
    }
    document.update(changes)
    return document


def dump(document: Any) -> bytes:
    return json.dumps(document).encode("utf-8")


MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x02" * 256


def publish(rt: Runtime, ref: RunRef, key: str = "pub-1") -> BuiltPacket:
    """Build a YouTube upload packet in the run (it cites the policy snapshots in
    force) and propose it; the provider's policy must be current."""
    spec = rt.workspace / "spec.json"
    spec.write_text(
        json.dumps(
            {
                "provider": "youtube",
                "action": "video.upload",
                "fields": {"title": "Clip", "privacyStatus": "private"},
                "disclosures": {"containsSyntheticMedia": False, "selfDeclaredMadeForKids": False},
            }
        ),
        encoding="utf-8",
    )
    (rt.workspace / "clip.mp4").write_bytes(MP4)
    built = packet_service(rt).build(spec, [rt.workspace / "clip.mp4"], run_id=ref.run_id)
    LedgerService(rt).propose(
        IntentRequest(
            provider="youtube",
            action="video.upload",
            account="chan",
            key=key,
            payload=built.document,
            run_id=ref.run_id,
        )
    )
    return built


@pytest.fixture
def two_workspaces(tmp_path: Path, sqlite_template: Path) -> Iterator[tuple[Runtime, Runtime]]:
    """Two workspaces, one on SQLite and one on PostgreSQL (skipped without it)."""
    if pg_base_url() is None:
        pytest.skip("AUTOPACK_TEST_PG_URL not set")
    sqlite_db = tmp_path / "sqlite.db"
    shutil.copyfile(sqlite_template, sqlite_db)
    pg_url = create_pg_database()
    from autopack.db.engine import create_db_engine
    from autopack.db.schema import upgrade

    engine = create_db_engine(pg_url)
    upgrade(engine)
    engine.dispose()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    lite = build_runtime(make_settings(tmp_path / "a", f"sqlite:///{sqlite_db.as_posix()}"))
    pg = build_runtime(make_settings(tmp_path / "b", pg_url))
    try:
        yield lite, pg
    finally:
        lite.close()
        pg.close()
        drop_pg_database(pg_url)
