"""Root command. Exit codes: 0 ok, 1 check failed, 2 bad input, 3 unavailable dependency."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from autopack import __version__
from autopack.cli import (
    actions,
    approvals,
    credentials,
    db,
    docs,
    fake_oauth,
    runs,
    sandbox,
    serve,
    worker,
)
from autopack.cli._common import err, out
from autopack.domain.errors import EXIT_CHECK_FAILED, AutopackError

HELP = """Autopack: a safety kernel for autonomous software that acts in the real world.

Settings come from AUTOPACK_* environment variables (see .env.example).

Exit codes: 0 ok, 1 check failed, 2 bad input, 3 unavailable dependency.
"""

app = typer.Typer(
    help=HELP,
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(db.app, name="db")
app.add_typer(runs.app, name="runs")
app.add_typer(docs.app, name="docs")
app.add_typer(docs.workspace_app, name="workspace")
app.add_typer(sandbox.app, name="sandbox")
app.add_typer(credentials.app, name="credentials")
app.add_typer(fake_oauth.app, name="fake-oauth")
app.command("serve")(serve.serve)
app.add_typer(actions.app, name="actions")
app.add_typer(approvals.app, name="approvals")
app.command("worker")(worker.worker)


def _version(value: bool) -> None:
    if value:
        out(f"autopack {__version__}")
        raise typer.Exit


@app.callback()
def root(
    _version_flag: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Autopack command line."""


def main(argv: list[str] | None = None) -> None:
    """Entry point: domain errors become one line on stderr and their exit code."""
    try:
        app(args=argv, prog_name="autopack")
    except AutopackError as exc:
        err(f"error: {exc.message}")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err("interrupted")
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - last line of defence: no traceback for users
        err(f"internal error: {type(exc).__name__}: {exc}")
        sys.exit(EXIT_CHECK_FAILED)
