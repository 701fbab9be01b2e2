"""What every command shares: ASCII-safe output, runtime construction, JSON, and
the one mapping from an exception to an exit code and a line on stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import typer

from autopack.domain.error_codes import ErrorCategory, ErrorCode
from autopack.domain.errors import AutopackError, UnavailableError

if TYPE_CHECKING:
    from autopack.domain.principals import Actor
    from autopack.services.context import Runtime
    from autopack.settings import Settings

# Exit codes, documented in the README and `autopack --help`.
EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_UNAVAILABLE = 3
# An unexpected crash (a bug): never 1, which scripts read as "the check failed".
EXIT_INTERNAL_ERROR = 4

# Shown by `autopack --help`; README "Exit codes" lists the same (contract-tested).
EXIT_MEANINGS: tuple[tuple[int, str], ...] = (
    (EXIT_OK, "ok"),
    (EXIT_CHECK_FAILED, "a check failed (e.g. verify-chain found a break, db check found drift)"),
    (EXIT_BAD_INPUT, "bad input (nothing was changed)"),
    (EXIT_UNAVAILABLE, "a dependency (database, provider) is unavailable or missing"),
    (EXIT_INTERNAL_ERROR, "internal error (a bug: please report it)"),
)
UPGRADE_COMMAND = "autopack db upgrade"

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
        ErrorCategory.INTERNAL: EXIT_INTERNAL_ERROR,
        ErrorCategory.UNAVAILABLE: EXIT_UNAVAILABLE,
    }
)


def exit_code(code: ErrorCode) -> int:
    return EXIT_CODES[code.category]


def exit_for(exc: BaseException) -> tuple[int, str]:
    """The exit code and the one stderr line for an exception that ended a command."""
    if isinstance(exc, AutopackError):
        return exit_code(exc.code), f"error: {exc.message}"
    if _database_unusable(exc):
        return EXIT_UNAVAILABLE, f"error: database unavailable: {_first_line(exc)}"
    return EXIT_INTERNAL_ERROR, f"internal error: {type(exc).__name__}: {_first_line(exc)}"


def _first_line(exc: BaseException) -> str:
    # SQLAlchemy appends the statement and a help link on later lines.
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _database_unusable(exc: BaseException) -> bool:
    """Cannot connect, or the schema is missing: the database, not the command, is at fault.

    Checks SQLAlchemy's wrappers and the drivers' own errors (the ledger's hot
    path uses driver connections directly); each module is looked up only if
    something already imported it."""
    for module, names in _UNUSABLE.items():
        loaded = sys.modules.get(module)
        if loaded is not None and isinstance(exc, tuple(getattr(loaded, n) for n in names)):
            return True
    # PostgreSQL undefined_table (a ProgrammingError): no migrations ran.
    return getattr(getattr(exc, "orig", exc), "sqlstate", None) == "42P01"


_UNUSABLE: dict[str, tuple[str, ...]] = {
    "sqlalchemy.exc": ("OperationalError", "InterfaceError"),
    "psycopg": ("OperationalError", "InterfaceError"),
    "sqlite3": ("OperationalError", "InterfaceError"),
}


def require_database(settings: Settings) -> None:
    """Refuse to run against an embedded (SQLite) database that does not exist.

    Opening a SQLite file creates it: a command run in the wrong directory would
    leave an empty database there and fail later with "no such table". Only
    `autopack db upgrade` creates the database.
    """
    from sqlalchemy.engine import make_url

    parsed = make_url(settings.effective_database_url)
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or database in ("", ":memory:"):
        return
    if not Path(database).is_file():
        raise UnavailableError(
            f"no Autopack database at {database} (workspace {settings.workspace_path}): "
            f"run `{UPGRADE_COMMAND}` in the workspace to create it, or set "
            "AUTOPACK_WORKSPACE (or AUTOPACK_DATABASE_URL) to an existing one",
            code=ErrorCode.DATABASE_MISSING,
        )


def _unavailable(exc: BaseException, settings: Settings) -> UnavailableError:
    from sqlalchemy.engine import make_url

    shown = make_url(settings.effective_database_url).render_as_string(hide_password=True)
    return UnavailableError(
        f"database unavailable ({shown}, workspace {settings.workspace_path}): "
        f"{type(exc).__name__}: {_first_line(exc)}; check AUTOPACK_DATABASE_URL, "
        f"or run `{UPGRADE_COMMAND}` if the schema is missing",
        code=ErrorCode.DATABASE_UNAVAILABLE,
    )


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
def runtime(*, create_database: bool = False) -> Iterator[Runtime]:
    """The runtime for one command. Refuses a missing embedded database unless
    ``create_database`` (only `db upgrade`); database failures inside the command
    become one line naming the workspace and the command that fixes it."""
    # Imported here: commands that need no database (sandbox, fake-oauth, docs)
    # start without loading the services and SQLAlchemy.
    from autopack.services.runtime import build_runtime
    from autopack.settings import load_settings

    settings = load_settings()
    if not create_database:
        require_database(settings)
    rt = build_runtime(settings)
    try:
        yield rt
    except Exception as exc:
        if _database_unusable(exc):
            raise _unavailable(exc, settings) from exc
        raise
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
