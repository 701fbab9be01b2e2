"""`autopack principals ...`: who may call the API, with which role, and their keys."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from autopack.cli._common import AS_OPTION, JSON_OPTION, acting_as, out, out_json, runtime

app = typer.Typer(
    help=(
        "Principals: every API caller is one, with a role (agent: propose; operator: also "
        "approve, reject, halt, cancel, resolve; admin: also credentials and principals). "
        "A key is shown once and stored only as a hash."
    )
)


def _line(body: dict[str, Any]) -> str:
    live = [k for k in body["keys"] if k["revoked_at"] is None]
    state = "revoked" if body["revoked_at"] else f"{len(live)} live key(s)"
    used = max((k["last_used_at"] or "" for k in live), default="") or "never"
    return f"{body['id']}  {body['name']}  {body['role']}  {state}  last used {used}"


def _show_key(body: dict[str, Any], as_json: bool, verb: str) -> None:
    if as_json:
        out_json(body)
        return
    out(f"{verb} {body['name']} ({body['role']})")
    out(f"API key (shown once, store it now): {body['api_key']}")


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="Lowercase name, e.g. publisher-bot.")],
    role: Annotated[str, typer.Option(help="agent, operator or admin.")],
    actor: Annotated[str | None, AS_OPTION] = None,
    as_json: bool = JSON_OPTION,
) -> None:
    """Add a principal and print its first API key (once)."""
    from autopack.services.principals import PrincipalService

    with runtime() as rt:
        body = PrincipalService(rt).add(name, role=role, actor=acting_as(actor))
    _show_key(body, as_json, "added")


@app.command("list")
def list_principals(as_json: bool = JSON_OPTION) -> None:
    """Every principal with its role, keys (ids only) and last use."""
    from autopack.services.principals import PrincipalService

    with runtime() as rt:
        items = PrincipalService(rt).list()
    if as_json:
        out_json({"principals": items})
        return
    if not items:
        out("no principals")
        return
    for body in items:
        out(_line(body))


@app.command("revoke")
def revoke(
    name: Annotated[str, typer.Argument(help="The principal to revoke.")],
    actor: Annotated[str | None, AS_OPTION] = None,
    as_json: bool = JSON_OPTION,
) -> None:
    """Revoke a principal and all its keys (they get 401 from now on)."""
    from autopack.services.principals import PrincipalService

    with runtime() as rt:
        body = PrincipalService(rt).revoke(name, actor=acting_as(actor))
    if as_json:
        out_json(body)
    else:
        out(f"revoked {body['name']}")


@app.command("rotate-key")
def rotate_key(
    name: Annotated[str, typer.Argument(help="The principal whose key to replace.")],
    actor: Annotated[str | None, AS_OPTION] = None,
    as_json: bool = JSON_OPTION,
) -> None:
    """Make a new key (printed once); the principal's old keys stop working at once."""
    from autopack.services.principals import PrincipalService

    with runtime() as rt:
        body = PrincipalService(rt).rotate_key(name, actor=acting_as(actor))
    _show_key(body, as_json, "new key for")


@app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="The principal to show.")],
    as_json: bool = JSON_OPTION,
) -> None:
    """One principal with its keys (ids only) and its history: who created it, every
    key made or revoked, and by whom."""
    from autopack.services.principals import PrincipalService

    with runtime() as rt:
        service = PrincipalService(rt)
        body = next((p for p in service.list() if p["name"] == name), None)
        history = service.events(name)
    if as_json:
        out_json({"principal": body, "events": history})
        return
    if body is not None:
        out(_line(body))
    for event in history:
        out(f"    {event['at']}  {event['event']}  by {event['actor']} ({event['via']})")
