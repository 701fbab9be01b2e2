"""`autopack halt ...`: a durable stop that holds approved actions until released."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from autopack.cli._common import AS_OPTION, JSON_OPTION, acting_as, out, out_json, runtime

app = typer.Typer(
    help=(
        "Durable halts: hold every approved action in a scope (all, one provider, one "
        "account) until a person releases it. Held actions wait; they never fail."
    )
)


def _line(halt: dict[str, Any]) -> str:
    state = "engaged" if halt["engaged"] else f"released by {halt['released_by']}"
    return (
        f"{halt['id']}  {halt['scope']}  {state}  engaged by {halt['engaged_by']} "
        f"at {halt['engaged_at']}: {halt['reason']}"
    )


@app.command("engage")
def engage(
    scope: Annotated[
        str,
        typer.Option(help="all | provider:PROVIDER | account:PROVIDER/ACCOUNT."),
    ],
    reason: Annotated[str, typer.Option(help="Why (recorded, shown with every held action).")],
    actor: Annotated[str | None, AS_OPTION] = None,
    as_json: bool = JSON_OPTION,
) -> None:
    """Engage a halt: from the next claim on, no covered action is sent."""
    from autopack.services.halts import HaltService

    with runtime() as rt:
        halt = HaltService(rt).engage(scope, reason=reason, actor=acting_as(actor))
    if as_json:
        out_json(halt)
    else:
        out(f"halt {halt['id']} engaged: {halt['scope']}")
        out(f"release it with: autopack halt release {halt['id']}")


@app.command("release")
def release(
    halt_id: Annotated[int, typer.Argument(help="Halt id (from `autopack halt status`).")],
    reason: Annotated[str | None, typer.Option(help="Why (recorded).")] = None,
    actor: Annotated[str | None, AS_OPTION] = None,
    as_json: bool = JSON_OPTION,
) -> None:
    """Release a halt: each held action is then sent exactly once by the worker."""
    from autopack.services.halts import HaltService

    with runtime() as rt:
        halt = HaltService(rt).release(halt_id, actor=acting_as(actor), reason=reason)
    if as_json:
        out_json(halt)
    else:
        out(f"halt {halt['id']} released: {halt['scope']}")


@app.command("status")
def status(
    show_all: Annotated[bool, typer.Option("--all", help="Also list released halts.")] = False,
    as_json: bool = JSON_OPTION,
) -> None:
    """Engaged halts, oldest first (with --all, released ones too)."""
    from autopack.services.halts import HaltService

    with runtime() as rt:
        halts = HaltService(rt).list(include_released=show_all)
    if as_json:
        out_json({"halts": halts})
        return
    if not halts:
        out("no halts engaged" if not show_all else "no halts")
        return
    for halt in halts:
        out(_line(halt))


@app.command("show")
def show(
    halt_id: Annotated[int, typer.Argument(help="Halt id.")],
    as_json: bool = JSON_OPTION,
) -> None:
    """One halt with its history (engaged, released: who, when, why)."""
    from autopack.services.halts import HaltService

    with runtime() as rt:
        halt = HaltService(rt).get(halt_id)
    if as_json:
        out_json(halt)
        return
    out(_line(halt))
    for event in halt["events"]:
        out(f"    {event['at']}  {event['event']}  by {event['actor']}: {event['reason']}")
