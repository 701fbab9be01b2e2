from __future__ import annotations

from typing import Annotated

import typer

from autopack.cli._common import JSON_OPTION, out, out_json, runtime
from autopack.domain.layout import IDENTIFIER_RULE, RUN_DIR_TEMPLATE
from autopack.services.runs import DEFAULT_LIST_LIMIT, RunRecord, RunService

app = typer.Typer(
    help=f"Runs and their directories: <workspace>/{RUN_DIR_TEMPLATE}. "
    f"Identifiers: {IDENTIFIER_RULE}."
)


def _show(record: RunRecord) -> None:
    for key, value in record.to_dict().items():
        out(f"{key}: {value}")


@app.command("new")
def new(
    project: Annotated[str, typer.Option(help="Project identifier.")],
    family: Annotated[str, typer.Option(help="Run family, e.g. publish or research.")],
    run_id: Annotated[
        str | None, typer.Option(help="Explicit run id; default: UTC time plus random suffix.")
    ] = None,
    as_json: bool = JSON_OPTION,
) -> None:
    """Create a run: database row, directory and run.json. Prints the run directory."""
    with runtime() as rt:
        record = RunService(rt).create(project, family, run_id)
    if as_json:
        out_json(record.to_dict())
    else:
        out(record.directory)


@app.command("list")
def list_runs(
    project: Annotated[str | None, typer.Option(help="Only this project.")] = None,
    family: Annotated[str | None, typer.Option(help="Only this family.")] = None,
    limit: Annotated[
        int, typer.Option(min=1, max=1000, help="At most this many.")
    ] = DEFAULT_LIST_LIMIT,
    as_json: bool = JSON_OPTION,
) -> None:
    """List runs, newest first."""
    with runtime() as rt:
        records = RunService(rt).list(project, family, limit)
    if as_json:
        out_json([r.to_dict() for r in records])
        return
    if not records:
        out("no runs")
        return
    for r in records:
        d = r.to_dict()
        out(f"{d['run_id']}  {d['project']}/{d['family']}  {d['created_at']}")


@app.command("show")
def show(run_id: str, as_json: bool = JSON_OPTION) -> None:
    """Show one run."""
    with runtime() as rt:
        record = RunService(rt).get(run_id)
    if as_json:
        out_json(record.to_dict())
    else:
        _show(record)
