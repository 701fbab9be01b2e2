from __future__ import annotations

import typer

from autopack.cli._common import out, runtime
from autopack.db import schema

app = typer.Typer(help="Database schema: upgrade to the code's revision, check for drift.")


@app.command()
def upgrade() -> None:
    """Apply every pending migration (the only command that creates the embedded database)."""
    with runtime(create_database=True) as rt:
        schema.upgrade(rt.engine)
        status = schema.schema_status(rt.engine)
    out(f"database at revision {status.current} (head)")


@app.command()
def check() -> None:
    """Exit 0 when the schema is at head and the models equal the migrations, else 1."""
    with runtime() as rt:
        status = schema.check(rt.engine)
    out(f"ok: database at head {status.head}; models match migrations")
