"""`autopack sandbox serve`: the local sandbox provider (a separate HTTP server process)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import ConfigurationError
from autopack.domain.sandbox_protocol import Mode, default_store_path
from autopack.sandbox.server import SandboxStartError, ServeOptions, read_token, serve
from autopack.settings import DEFAULT_HOST, DEFAULT_SANDBOX_PORT, load_settings

app = typer.Typer(
    help="The sandbox provider: fake side effects, recorded durably, with fault injection.",
    no_args_is_help=True,
)


@app.command("serve")
def serve_command(
    host: Annotated[str, typer.Option(help="Loopback address to bind.")] = DEFAULT_HOST,
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="Port; 0 picks a free one.")
    ] = DEFAULT_SANDBOX_PORT,
    mode: Annotated[
        Mode,
        typer.Option(
            help="idempotent: honours Idempotency-Key; lookup_only: no idempotency, lookup "
            "by client_ref; none: neither (lookup answers 501)."
        ),
    ] = Mode.IDEMPOTENT,
    store: Annotated[
        Path | None,
        typer.Option(
            help="SQLite file of every effect "
            "[default: <workspace>/.autonomous_runs/_autopack/sandbox.db]."
        ),
    ] = None,
    fault_plan: Annotated[
        Path | None, typer.Option(help="JSON file of faults to queue at start.")
    ] = None,
    token_file: Annotated[
        Path | None, typer.Option(help="File holding a bearer token the /v1 routes require.")
    ] = None,
    verbose: Annotated[bool, typer.Option(help="Log every request on stderr.")] = False,
) -> None:
    """Serve until SIGTERM/Ctrl-C. Prints `sandbox listening on http://HOST:PORT` when ready."""
    try:
        options = ServeOptions(
            host=host,
            port=port,
            mode=mode,
            store=store or default_store_path(load_settings().workspace_path),
            fault_plan=fault_plan,
            token=read_token(token_file),
            verbose=verbose,
        )
        serve(options)
    except SandboxStartError as exc:
        raise ConfigurationError(str(exc), code=ErrorCode.SANDBOX_START_FAILED) from None
