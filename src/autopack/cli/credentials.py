"""`autopack credentials ...`: the encrypted credential store from the command line.

Secrets never come from argv: API key secrets and the old key for rotation are
read from stdin (without echo on a terminal).
"""

from __future__ import annotations

import getpass
import sys
import webbrowser
from typing import Annotated

import typer

from autopack.cli._common import JSON_OPTION, flush, out, out_json, runtime
from autopack.domain.credentials import CredentialStatus
from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import CheckFailedError, InvalidInputError
from autopack.providers.registry import CREDENTIAL_PROVIDERS
from autopack.services.credentials import (
    DEFAULT_EVENTS_LIMIT,
    CredentialHealth,
    CredentialService,
)
from autopack.services.oauth_callback import LoopbackCallback

app = typer.Typer(
    help="Encrypted credentials: OAuth2 connect (PKCE), API keys, refresh, health. "
    f"Providers: {', '.join(CREDENTIAL_PROVIDERS)}.",
    no_args_is_help=True,
)

ACCOUNT = typer.Option("--account", help="Account identifier (Shopify: the shop name).")
HEALTHY = frozenset({CredentialStatus.PRESENT, CredentialStatus.REFRESHING})


def _read_secret(prompt: str) -> str:
    """One line from stdin; without echo when stdin is a terminal."""
    value = getpass.getpass(prompt) if sys.stdin.isatty() else sys.stdin.readline()
    value = value.rstrip("\r\n")
    if not value:
        raise InvalidInputError("expected the secret on stdin", code=ErrorCode.SECRET_MISSING)
    return value


def _line(h: CredentialHealth) -> str:
    expires = "" if h.expires_in is None else f"  expires_in={h.expires_in}s"
    paused = "  DISPATCH PAUSED" if h.dispatch_paused else ""
    return f"{h.provider}/{h.account}  {h.kind}  {h.environment}  {h.status.value}{expires}{paused}"


def _show(h: CredentialHealth) -> None:
    out(_line(h))
    d = h.to_dict()
    for key in (
        "scopes",
        "last_success_at",
        "last_failure_at",
        "last_error_class",
        "last_error_code",
        "failure_count",
        "total_failures",
        "refresh_count",
        "reauth_task",
    ):
        if d[key] not in (None, [], 0):
            out(f"  {key}: {d[key]}")
    for warning in h.warnings:
        out(f"  warning [{warning['severity']}] {warning['code']}: {warning['message']}")


@app.command("connect")
def connect(
    provider: Annotated[str, typer.Argument(help="youtube, etsy or shopify.")],
    account: Annotated[str, ACCOUNT],
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="Callback port on 127.0.0.1; 0 picks one.")
    ] = 0,
    open_browser: Annotated[
        bool, typer.Option("--open/--no-open", help="Open the URL in a browser.")
    ] = True,
    timeout: Annotated[
        float, typer.Option(min=1, help="Seconds to wait for the callback.")
    ] = 300.0,
    as_json: bool = JSON_OPTION,
) -> None:
    """Authorize in a browser (code + PKCE S256); the callback lands on 127.0.0.1."""
    with runtime() as rt, CredentialService(rt, actor="cli") as service:
        with LoopbackCallback(port) as callback:
            pending = service.begin_connect(provider, account, callback.redirect_uri)
            callback.expect_state(pending.state)
            out("Open this URL to authorize (waiting for the callback):")
            out(pending.authorize_url)
            flush()
            if open_browser:
                webbrowser.open(pending.authorize_url)
            callback_url = callback.wait(timeout)
        health = service.complete_connect(pending, callback_url)
    if as_json:
        out_json(health.to_dict())
    else:
        out(f"connected: {_line(health)}")


@app.command("add-key")
def add_key(
    provider: Annotated[str, typer.Option("--provider", help="alpaca.")],
    account: Annotated[str, ACCOUNT],
    key_id: Annotated[str, typer.Option("--key-id", help="The API key id (public half).")],
    environment: Annotated[str, typer.Option(help="paper or live.")] = "paper",
    as_json: bool = JSON_OPTION,
) -> None:
    """Store an API key pair; the secret key is read from stdin, never from argv."""
    secret = _read_secret("secret key: ")
    with runtime() as rt, CredentialService(rt, actor="cli") as service:
        health = service.add_api_key(
            provider, account, key_id=key_id, secret=secret, environment=environment
        )
    if as_json:
        out_json(health.to_dict())
    else:
        _show(health)


@app.command("list")
def list_credentials(as_json: bool = JSON_OPTION) -> None:
    """Every stored credential, one line each."""
    with runtime() as rt, CredentialService(rt, actor="cli") as service:
        items = service.health()
    if as_json:
        out_json([h.to_dict() for h in items])
        return
    if not items:
        out("no credentials")
    for h in items:
        out(_line(h))


@app.command("health")
def health(
    provider: Annotated[str | None, typer.Argument(help="Only this provider.")] = None,
    account: Annotated[str | None, typer.Option("--account", help="Only this account.")] = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check", help="Exit 1 unless every credential is usable with no critical warning."
        ),
    ] = False,
    as_json: bool = JSON_OPTION,
) -> None:
    """Status, expiry, last success, last error class, failure counts, warnings."""
    with runtime() as rt, CredentialService(rt, actor="cli") as service:
        items = service.health(provider, account)
    if as_json:
        out_json([h.to_dict() for h in items])
    elif not items:
        out("no credentials")
    else:
        for h in items:
            _show(h)
    if check:
        bad = [
            f"{h.provider}/{h.account}"
            for h in items
            if h.status not in HEALTHY or any(w["severity"] == "critical" for w in h.warnings)
        ]
        if bad:
            raise CheckFailedError(
                f"unhealthy credentials: {', '.join(bad)}", code=ErrorCode.CREDENTIALS_UNHEALTHY
            )


@app.command("refresh")
def refresh(
    provider: Annotated[str, typer.Argument(help="youtube, etsy or shopify.")],
    account: Annotated[str, ACCOUNT],
    as_json: bool = JSON_OPTION,
) -> None:
    """Refresh now (single-flight: joins a refresh already running elsewhere)."""
    with runtime() as rt, CredentialService(rt, actor="cli") as service:
        result = service.refresh(provider, account)
    if as_json:
        out_json(result.to_dict())
    else:
        _show(result)


@app.command("remove")
def remove(
    provider: Annotated[str, typer.Argument(help="Provider.")],
    account: Annotated[str, ACCOUNT],
) -> None:
    """Delete a stored credential (and its open re-auth task)."""
    with runtime() as rt, CredentialService(rt, actor="cli") as service:
        service.remove(provider, account)
    out(f"removed {provider}/{account}")


@app.command("pause")
def pause(
    provider: Annotated[str, typer.Argument(help="Provider.")],
    account: Annotated[str, ACCOUNT],
) -> None:
    """Pause dispatch for one account (approved actions wait); `resume` undoes it."""
    with runtime() as rt, CredentialService(rt, actor="cli") as service:
        _show(service.set_paused(provider, account, paused=True))


@app.command("resume")
def resume(
    provider: Annotated[str, typer.Argument(help="Provider.")],
    account: Annotated[str, ACCOUNT],
) -> None:
    """Resume dispatch paused by `pause` (an account needing re-auth must reconnect)."""
    with runtime() as rt, CredentialService(rt, actor="cli") as service:
        _show(service.set_paused(provider, account, paused=False))


@app.command("rotate-key")
def rotate_key(as_json: bool = JSON_OPTION) -> None:
    """Re-encrypt everything under the configured AUTOPACK_SECRET_KEY (fresh salt).

    The OLD key is read from stdin (give the current one to only renew the salt).
    """
    old = _read_secret("old key: ")
    with runtime() as rt, CredentialService(rt, actor="cli") as service:
        result = service.rotate_key(old)
    if as_json:
        out_json(result)
    else:
        out(f"re-encrypted {result['reencrypted']} credentials under key id {result['key_id']}")


@app.command("events")
def events(
    provider: Annotated[str | None, typer.Option(help="Only this provider.")] = None,
    account: Annotated[str | None, typer.Option(help="Only this account.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = DEFAULT_EVENTS_LIMIT,
    as_json: bool = JSON_OPTION,
) -> None:
    """Credential events, newest first (never secret material)."""
    with runtime() as rt, CredentialService(rt, actor="cli") as service:
        items = service.events(provider, account, limit)
    if as_json:
        out_json(items)
        return
    for e in items:
        out(f"{e['at']}  {e['provider']}/{e['account']}  {e['event']}  {e['data']}")
