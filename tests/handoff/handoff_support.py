"""Shared set-up for the handoff and run-memory tests: runs with fixed facts."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from autopack.domain.layout import RunRef
from autopack.services.context import Runtime
from autopack.services.ledger import LedgerService
from autopack.services.ledger.records import IntentRequest
from autopack.services.runs import RunService

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
