"""`autopack memory ...`: search run memory, rebuild its index from the run files."""

from __future__ import annotations

from contextlib import closing
from typing import Annotated

import typer

from autopack.cli._common import JSON_OPTION, out, out_json, runtime

app = typer.Typer(
    help="Run memory: run artifacts searchable in Qdrant (embedded in the workspace, or "
    "the server at AUTOPACK_QDRANT_URL), with vectors Autopack computes itself."
)


@app.command("search")
def search(
    text: str,
    project: Annotated[str | None, typer.Option(help="Only this project.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100, help="At most this many.")] = 10,
    as_json: bool = JSON_OPTION,
) -> None:
    """The artifacts most similar to TEXT, best first."""
    from autopack.services.memory import MemoryService

    with runtime() as rt, closing(MemoryService(rt)) as memory:
        hits = memory.search(text, project=project, limit=limit)
    if as_json:
        out_json([h.to_dict() for h in hits])
        return
    if not hits:
        out("no matches")
    for h in hits:
        d = h.to_dict()
        # A policy diff belongs to no run; its path is the workspace's.
        owner = f"{d['project']}/{d['family']}/{d['run_id']}  " if d["run_id"] else ""
        out(f"{d['rank']}. {d['score']}  {owner}{d['path']}")


@app.command("rebuild")
def rebuild(as_json: bool = JSON_OPTION) -> None:
    """Drop the index and index every run directory and policy diff again from the files."""
    from autopack.services.memory import MemoryService

    with runtime() as rt, closing(MemoryService(rt)) as memory:
        counts = memory.rebuild()
    if as_json:
        out_json(counts)
    else:
        out(
            f"indexed {counts['artifacts']} artifacts of {counts['runs']} runs "
            f"({counts['policy_diffs']} policy diffs)"
        )
