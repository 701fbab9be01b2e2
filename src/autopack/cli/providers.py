"""`autopack providers list`: every provider, its actions and how each meets the wire."""

from __future__ import annotations

import typer

from autopack.cli._common import JSON_OPTION, out, out_json
from autopack.services.provider_catalogue import provider_catalogue

app = typer.Typer(help="The providers Autopack can act on, and how it talks to each.")


@app.command("list")
def list_providers(as_json: bool = JSON_OPTION) -> None:
    """Every provider with its actions: category, idempotency mode and lookup strategy.

    A provider marked "no adapter" has its credentials and categories declared,
    but nothing can be proposed for it yet."""
    catalogue = provider_catalogue()
    if as_json:
        out_json(catalogue)
        return
    for entry in catalogue:
        state = "adapter" if entry["dispatchable"] else "no adapter"
        out(
            f"{entry['provider']}  ({entry['title']}; {state}; credentials: {entry['credentials']})"
        )
        for action in entry["actions"]:
            out(f"  {action['action']}  [{action['category']}]")
            if action["idempotency"] is not None:
                out(f"    idempotency: {action['idempotency']}")
                out(f"    lookup: {action['lookup']}")
