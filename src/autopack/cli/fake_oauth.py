"""`autopack fake-oauth serve`: the fake OAuth 2.0 server (a separate local process)."""

from __future__ import annotations

from typing import Annotated

import typer

from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import ConfigurationError
from autopack.fake_oauth.server import DEFAULT_ACCESS_TTL, serve

app = typer.Typer(
    help="A fake OAuth 2.0 server for tests and demos: PKCE, rotating refresh tokens, "
    "family revocation on reuse, injected faults.",
    no_args_is_help=True,
)


@app.command("serve")
def serve_command(
    host: Annotated[str, typer.Option(help="Loopback address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="0 picks a free port.")] = 0,
    access_ttl: Annotated[int, typer.Option(min=1, help="Access token lifetime (s).")] = (
        DEFAULT_ACCESS_TTL
    ),
    refresh_ttl: Annotated[
        int | None, typer.Option(min=1, help="Refresh token lifetime (s); default: none.")
    ] = None,
    verbose: Annotated[bool, typer.Option(help="Log every request on stderr.")] = False,
) -> None:
    """Serve until SIGTERM/Ctrl-C. Prints `fake-oauth listening on http://HOST:PORT`."""
    try:
        serve(host, port, access_ttl=access_ttl, refresh_ttl=refresh_ttl, verbose=verbose)
    except (OSError, ValueError) as exc:
        raise ConfigurationError(
            f"cannot serve: {exc}", code=ErrorCode.FAKE_OAUTH_START_FAILED
        ) from exc
