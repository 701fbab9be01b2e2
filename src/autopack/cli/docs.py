"""`autopack docs drift|links|summary` and `autopack workspace verify`.

Each command checks one repository (``--root``, default: the current directory)
against that repository's own registry, docs/PROJECT_INDEX.json.
Exit codes: 0 clean, 1 findings, 2 bad input (missing registry, unreadable file).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from autopack.cli._common import EXIT_CHECK_FAILED, out
from autopack.domain.errors import InvalidInputError
from autopack.governance.drift import check_drift
from autopack.governance.findings import Report
from autopack.governance.links import check_links
from autopack.governance.summary import evaluate_summary
from autopack.governance.view import RepoView
from autopack.governance.workspace import check_workspace
from autopack.services.fsio import atomic_write_text

app = typer.Typer(
    help="Docs governance: drift rules, offline links and anchors, the README summary block.",
    no_args_is_help=True,
)
workspace_app = typer.Typer(
    help="Workspace structure: what may live where (repository and .autonomous_runs/).",
    no_args_is_help=True,
)

RootOption = Annotated[
    Path,
    typer.Option(
        "--root",
        help="Repository to check, against its own docs/PROJECT_INDEX.json.",
        file_okay=False,
    ),
]


def _finish(report: Report) -> None:
    for finding in report.sorted_findings():
        out(finding.render())
    out(report.summary_line())
    if not report.ok:
        raise typer.Exit(EXIT_CHECK_FAILED)


@app.command("drift")
def drift(root: RootOption = Path()) -> None:
    """Apply the registry's drift rules to the living docs (ledgers are exempt)."""
    view = RepoView(root)
    report = check_drift(view)
    view.save_cache()
    _finish(report)


@app.command("links")
def links(root: RootOption = Path()) -> None:
    """Check relative links and #anchors in every Markdown file, offline."""
    view = RepoView(root)
    report = check_links(view)
    view.save_cache()
    _finish(report)


@app.command("summary")
def summary(
    root: RootOption = Path(),
    check: Annotated[
        bool, typer.Option("--check", help="Exit 1 with a diff if the block is not current.")
    ] = False,
    execute: Annotated[
        bool, typer.Option("--execute", help="Rewrite the block from the ledgers.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="With --execute: replace a hand-edited block too.")
    ] = False,
) -> None:
    """Regenerate the README summary block from the ledgers (default: --check)."""
    if check and execute:
        raise InvalidInputError("use --check or --execute, not both")
    if force and not execute:
        raise InvalidInputError("--force only makes sense with --execute")
    view = RepoView(root)
    outcome = evaluate_summary(view, execute=execute, force=force)
    view.save_cache()
    if outcome.new_text is not None:
        atomic_write_text(root / outcome.path, outcome.new_text)
        out(f"summary: rewrote the block in {outcome.path} (was {outcome.state})")
        return
    if outcome.state in ("stale", "hand-edited"):
        for line in outcome.diff():
            out(line)
    _finish(outcome.report)


@workspace_app.command("verify")
def verify(root: RootOption = Path()) -> None:
    """Check the repository layout and the run tree against the registry."""
    _finish(check_workspace(RepoView(root)))
