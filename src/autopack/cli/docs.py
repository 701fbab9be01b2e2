"""`autopack docs drift|links|summary|init` and `autopack workspace verify`.

Each check reads one repository (``--root``, default: the current directory)
against a registry (``--registry``, default docs/PROJECT_INDEX.json, relative
to the root; JSON or TOML). A check whose registry section is missing says so
and exits 0; `summary --check` and `summary --execute` ask for the summary
explicitly, so there a missing section is bad input.
Exit codes: 0 clean, 1 findings, 2 bad input (missing registry, unreadable file).
Each check imports only what it needs, so a run pays for its own work.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from autopack.cli._common import EXIT_CHECK_FAILED, out
from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import InvalidInputError

if TYPE_CHECKING:
    from autopack.governance.findings import Report
    from autopack.governance.view import RepoView

app = typer.Typer(
    help="Docs governance: drift rules, offline links and anchors, the README summary block; "
    "init writes a starter registry.",
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
        help="Repository to check (a git work tree or a plain directory).",
        file_okay=False,
    ),
]
RegistryOption = Annotated[
    Path | None,
    typer.Option(
        "--registry",
        help="Registry file, JSON or TOML, relative to --root "
        "(default: docs/PROJECT_INDEX.json, else docs/PROJECT_INDEX.toml).",
        dir_okay=False,
    ),
]
FormatOption = Annotated[
    str,
    typer.Option("--format", help="Output: text, json or sarif (SARIF 2.1.0)."),
]
VerboseOption = Annotated[
    bool, typer.Option("--verbose", "-v", help="Add each rule's reason to its findings.")
]
OutputFormat = Literal["text", "json", "sarif"]


def _format(value: str) -> OutputFormat:
    if value == "text":
        return "text"
    if value == "json":
        return "json"
    if value == "sarif":
        return "sarif"
    raise InvalidInputError(
        f"--format {value!r}: use text, json or sarif", code=ErrorCode.BAD_FORMAT
    )


def _view(root: Path, registry: Path | None) -> RepoView:
    from autopack.governance.view import RepoView

    return RepoView(root, registry=registry)


def _finish(report: Report, fmt: OutputFormat, verbose: bool) -> None:
    from autopack.governance.output import render

    for line in render(report, fmt, verbose=verbose):
        out(line)
    if not report.ok:
        raise typer.Exit(EXIT_CHECK_FAILED)


@app.command("drift")
def drift(
    root: RootOption = Path(),
    registry: RegistryOption = None,
    output: FormatOption = "text",
    verbose: VerboseOption = False,
) -> None:
    """Apply the registry's drift rules to the living docs (ledgers are exempt)."""
    from autopack.governance.drift import check_drift

    fmt = _format(output)
    view = _view(root, registry)
    report = check_drift(view)
    view.save_cache()
    _finish(report, fmt, verbose)


@app.command("links")
def links(
    root: RootOption = Path(),
    registry: RegistryOption = None,
    output: FormatOption = "text",
    verbose: VerboseOption = False,
) -> None:
    """Check relative links and #anchors in the Markdown files in scope, offline."""
    from autopack.governance.links import check_links

    fmt = _format(output)
    view = _view(root, registry)
    report = check_links(view)
    view.save_cache()
    _finish(report, fmt, verbose)


@app.command("summary")
def summary(
    root: RootOption = Path(),
    registry: RegistryOption = None,
    check: Annotated[
        bool, typer.Option("--check", help="Exit 1 with a diff if the block is not current.")
    ] = False,
    execute: Annotated[
        bool, typer.Option("--execute", help="Rewrite the block from the ledgers.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="With --execute: replace a hand-edited block too.")
    ] = False,
    output: FormatOption = "text",
    verbose: VerboseOption = False,
) -> None:
    """Regenerate the README summary block from the ledgers (default: --check)."""
    from autopack.governance.summary import evaluate_summary

    fmt = _format(output)
    if check and execute:
        raise InvalidInputError("use --check or --execute, not both")
    if force and not execute:
        raise InvalidInputError("--force only makes sense with --execute")
    view = _view(root, registry)
    outcome = evaluate_summary(view, execute=execute, force=force)
    view.save_cache()
    if outcome.state == "skipped" and (check or execute):
        raise InvalidInputError(
            f"{view.loaded.path}: no summary section, but --check/--execute asked for it",
            code=ErrorCode.MISSING_SECTION,
        )
    if outcome.new_text is not None:
        from autopack.services.fsio import atomic_write_text

        atomic_write_text(root / outcome.path, outcome.new_text)
        out(f"summary: rewrote the block in {outcome.path} (was {outcome.state})")
        return
    if fmt == "text" and outcome.state in ("stale", "hand-edited"):
        for line in outcome.diff():
            out(line)
    _finish(outcome.report, fmt, verbose)


@app.command("init")
def init(
    root: RootOption = Path(),
    registry: Annotated[
        Path,
        typer.Option("--registry", help="Where to write it, relative to --root.", dir_okay=False),
    ] = Path("docs/PROJECT_INDEX.toml"),
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
) -> None:
    """Write a minimal, commented TOML registry: living docs by glob, ledgers by name,
    starter drift rules."""
    from autopack.governance.init import render_init
    from autopack.governance.registry import load_registry, registry_location
    from autopack.governance.repo import list_repo_files
    from autopack.services.fsio import atomic_write_text

    if not root.is_dir():
        raise InvalidInputError(f"--root {root}: no such directory", code=ErrorCode.BAD_ROOT)
    path, shown = registry_location(root, registry)
    if not shown.lower().endswith(".toml"):
        raise InvalidInputError(f"--registry {shown}: init writes TOML; use a .toml name")
    if path.exists() and not force:
        raise InvalidInputError(f"{shown} exists; add --force to replace it", code=ErrorCode.EXISTS)
    name = root.resolve().name or "project"
    text = render_init(name, list_repo_files(root), shown)
    atomic_write_text(path, text)
    load_registry(root, registry)  # what was written must load
    out(f"init: wrote {shown}; check with: autopack docs drift --registry {shown}")


@workspace_app.command("verify")
def verify(
    root: RootOption = Path(),
    registry: RegistryOption = None,
    output: FormatOption = "text",
    verbose: VerboseOption = False,
) -> None:
    """Check the repository layout and the run tree against the registry."""
    from autopack.governance.workspace import check_workspace

    fmt = _format(output)
    _finish(check_workspace(_view(root, registry)), fmt, verbose)
