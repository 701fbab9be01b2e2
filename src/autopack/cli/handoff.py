"""`autopack handoff ...`: run context, task briefs and accepting helper outputs."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path
from typing import Annotated

import typer

from autopack.cli._common import EXIT_CHECK_FAILED, JSON_OPTION, err, out, out_json, runtime

app = typer.Typer(
    help="Sub-agent handoff: the run context (handoff/context.json -> context.md), task "
    "briefs, and the output contract helpers' outputs must pass."
)


@app.command("context")
def context(
    run_id: str,
    goal: Annotated[
        list[str] | None, typer.Option("--goal", help="A goal (repeat); default: keep.")
    ] = None,
    constraint: Annotated[
        list[str] | None,
        typer.Option("--constraint", help="A constraint (repeat); default: keep."),
    ] = None,
    question: Annotated[
        list[str] | None,
        typer.Option("--question", help="An open question (repeat); default: keep."),
    ] = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check", help="Write nothing; exit 1 if context.md is not what context.json renders."
        ),
    ] = False,
    as_json: bool = JSON_OPTION,
) -> None:
    """Generate handoff/context.json from the run's artifacts, and context.md from it."""
    from autopack.services.handoff import HandoffService

    with runtime() as rt, closing(HandoffService(rt)) as service:
        if check:
            service.check_context(run_id)
            out("handoff/context.md matches handoff/context.json")
            return
        result = service.context(run_id, goals=goal, constraints=constraint, questions=question)
    if as_json:
        out_json(result.document)
    else:
        out(result.json_path)
        out(result.markdown_path)


@app.command("brief")
def brief(
    run_id: str,
    task: Annotated[str, typer.Option(help="research, plan or review.")],
    goal: Annotated[str, typer.Option(help="What the helper is to achieve.")],
    as_json: bool = JSON_OPTION,
) -> None:
    """Write handoff/briefs/<id>.json and .md (id: the brief's content hash)."""
    from autopack.services.handoff import HandoffService

    with runtime() as rt, closing(HandoffService(rt)) as service:
        result = service.brief(run_id, task, goal)
    if as_json:
        out_json(result.to_dict())
    else:
        out(f"brief {result.brief['id']} sha256 {result.sha256}")
        out(result.json_path)
        out(result.markdown_path)


@app.command("accept")
def accept(
    run_id: str,
    file: Annotated[Path, typer.Argument(help="The helper's output JSON.")],
    as_json: bool = JSON_OPTION,
) -> None:
    """Check a helper's output against the contract. Exit 1 when refused: it is then
    kept (secrets masked) in handoff/rejected/ with a reason file. Proposed actions
    are recorded, never executed."""
    from autopack.services.handoff import HandoffService

    with runtime() as rt, closing(HandoffService(rt)) as service:
        result = service.accept_file(run_id, file)
    if as_json:
        out_json(result.to_dict())
    elif result.accepted:
        out(f"accepted: {result.path}")
        for note in result.notes:
            out(f"note: {note}")
    else:
        out(f"rejected: {result.path} (reasons: {result.reason_path})")
        for problem in result.problems:
            out(f"- {problem.code} at {problem.pointer or '/'}: {problem.message}")
    if not result.accepted:
        err("error: the output was refused")
        raise typer.Exit(EXIT_CHECK_FAILED)


@app.command("show")
def show(run_id: str) -> None:
    """What the run's handoff holds (JSON)."""
    from autopack.services.handoff import HandoffService

    with runtime() as rt, closing(HandoffService(rt)) as service:
        out_json(service.show(run_id))
