from __future__ import annotations

from typing import Annotated

import typer
import uvicorn

from autopack.api.app import create_app, require_someone_in_charge
from autopack.cli._common import err, require_database
from autopack.db.schema import ensure_at_head
from autopack.services.runtime import build_runtime
from autopack.settings import load_settings


def serve(
    host: Annotated[
        str | None, typer.Option(help="Bind address [default: AUTOPACK_HOST or 127.0.0.1].")
    ] = None,
    port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="Port [default: AUTOPACK_PORT or 8000].")
    ] = None,
) -> None:
    """Start the HTTP API. Refuses a missing database or a schema behind head (exit 3),
    and, in production, an API nobody can administer: no AUTOPACK_API_KEY and no admin
    principal (exit 2)."""
    settings = load_settings()
    require_database(settings)  # only `db upgrade` creates the embedded database
    runtime = build_runtime(settings)
    ensure_at_head(runtime.engine)
    app = create_app(runtime=runtime)
    # Before binding: an API nobody can administer is refused here (exit 2).
    require_someone_in_charge(runtime, app.state.api_key)
    bind_host = host or settings.host
    bind_port = port or settings.port
    err(
        f"autopack: serving on http://{bind_host}:{bind_port} (workspace {settings.workspace_path})"
    )
    try:
        uvicorn.run(app, host=bind_host, port=bind_port, log_level="info")
    finally:
        runtime.close()
