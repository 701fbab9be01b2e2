"""What every command shares: ASCII-safe output, runtime construction, JSON."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from autopack.services.context import Runtime


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
