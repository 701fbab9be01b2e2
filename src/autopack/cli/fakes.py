"""`autopack fakes serve`: the local fakes of YouTube, Etsy, Shopify and Alpaca."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import ConfigurationError
from autopack.fakes.__main__ import STORE_NAME, default_store_path
from autopack.fakes.registry import FAKES
from autopack.fakes.server import FakesOptions, FakesStartError, serve
from autopack.settings import DEFAULT_HOST, load_settings

app = typer.Typer(
    help="Wire-faithful local fakes of the real providers, with durable effects and "
    "fault injection: point the adapters' base URL settings at them.",
    no_args_is_help=True,
)


@app.command("serve")
def serve_command(
    host: Annotated[str, typer.Option(help="Loopback address to bind.")] = DEFAULT_HOST,
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port; 0 picks a free one.")] = 0,
    provider: Annotated[
        list[str] | None,
        typer.Option(help="Serve only this provider's fake (repeatable). Default: every fake."),
    ] = None,
    store: Annotated[
        Path | None,
        typer.Option(
            help=f"SQLite file of every effect [default: <workspace>/.autonomous_runs/"
            f"_autopack/{STORE_NAME}]."
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option(help="Log every request on stderr.")] = False,
) -> None:
    """Serve until SIGTERM/Ctrl-C. Prints `fakes listening on http://HOST:PORT` when ready.

    Each fake answers on the provider's own paths, so one port serves them all."""
    try:
        serve(
            FakesOptions(
                host=host,
                port=port,
                store=store or default_store_path(load_settings().workspace_path),
                providers=tuple(provider or ()),
                verbose=verbose,
            )
        )
    except FakesStartError as exc:
        known = ", ".join(sorted(FAKES)) or "none"
        raise ConfigurationError(
            str(exc), code=ErrorCode.FAKES_START_FAILED, details={"fakes": known}
        ) from None
