"""What every command shares: ASCII-safe output, exit codes, runtime construction, JSON."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import typer

from autopack.domain.error_codes import ErrorCategory, ErrorCode

if TYPE_CHECKING:
    from autopack.domain.principals import Actor
    from autopack.services.context import Runtime

# Exit codes, documented in the README and `autopack --help`.
EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_UNAVAILABLE = 3

# The one place an error code's category becomes an exit code.
EXIT_CODES: Mapping[ErrorCategory, int] = MappingProxyType(
    {
        ErrorCategory.INVALID_INPUT: EXIT_BAD_INPUT,
        ErrorCategory.UNAUTHENTICATED: EXIT_BAD_INPUT,
        ErrorCategory.FORBIDDEN: EXIT_BAD_INPUT,
        ErrorCategory.NOT_FOUND: EXIT_BAD_INPUT,
        ErrorCategory.CONFLICT: EXIT_BAD_INPUT,
        ErrorCategory.INVALID_REQUEST: EXIT_BAD_INPUT,
        ErrorCategory.PROTOCOL: EXIT_BAD_INPUT,
        ErrorCategory.CONFIGURATION: EXIT_BAD_INPUT,
        ErrorCategory.CHECK_FAILED: EXIT_CHECK_FAILED,
        ErrorCategory.INTERNAL: EXIT_CHECK_FAILED,
        ErrorCategory.UNAVAILABLE: EXIT_UNAVAILABLE,
    }
)


def exit_code(code: ErrorCode) -> int:
    return EXIT_CODES[code.category]


def ascii_safe(text: str) -> str:
    """Windows consoles may not encode UTF-8: escape anything outside ASCII."""
    return text.encode("ascii", "backslashreplace").decode("ascii")


def out(text: str = "") -> None:
    typer.echo(ascii_safe(text))


def err(text: str) -> None:
    typer.echo(ascii_safe(text), err=True)


def out_json(value: Any) -> None:
    # ensure_ascii keeps the output ASCII while staying valid JSON.
    typer.echo(json.dumps(value, indent=2, sort_keys=True, ensure_ascii=True))


@contextmanager
def runtime() -> Iterator[Runtime]:
    # Imported here: commands that need no database (sandbox, fake-oauth, docs)
    # start without loading the services and SQLAlchemy.
    from autopack.services.runtime import build_runtime
    from autopack.settings import load_settings

    rt = build_runtime(load_settings())
    try:
        yield rt
    finally:
        rt.close()


JSON_OPTION = typer.Option(False, "--json", help="Print JSON instead of text.")


def flush() -> None:
    sys.stdout.flush()


def acting_as(name: str | None) -> Actor:
    """Who a command acts as: ``--as NAME``, else the operating-system user (the
    command line works with machine trust; the decision is recorded as via "cli")."""
    import getpass

    from autopack.domain.principals import cli_actor

    if name is None:
        try:
            name = getpass.getuser()
        except (KeyError, OSError):
            name = "unknown"
    return cli_actor(name)


# For ``Annotated[str | None, AS_OPTION] = None``.
AS_OPTION = typer.Option("--as", help="Who acts (recorded); default: the operating-system user.")
