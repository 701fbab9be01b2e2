"""`autopack packets build|show`: content-addressed publish packets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from autopack.cli._common import JSON_OPTION, out, out_json, runtime

app = typer.Typer(
    help="Publish packets: the exact text, media (hashed by Autopack) and disclosures a "
    "publish or list action sends. A packet's id is its SHA-256; an approval binds to it.",
    no_args_is_help=True,
)


def _print(built: dict[str, Any]) -> None:
    packet = built["packet"]
    out(f"packet: {built['packet_id']}")
    out(f"file: {built['path']}")
    out(f"provider: {packet['provider']}  action: {packet['action']}")
    for name, value in sorted(packet["fields"].items()):
        text = value if isinstance(value, str) else str(value)
        out(f"  {name}: {text[:80]}{'...' if len(text) > 80 else ''}")
    for name, value in sorted(packet["disclosures"].items()):
        out(f"  disclosure {name}: {str(value).lower()}")
    for media in packet["media"]:
        out(
            f"  media {media['name']}: {media['size']} bytes, {media['content_type']}, "
            f"sha256 {media['sha256']}"
        )
    refs = packet["policy_refs"]
    out(f"  policy refs: {len(refs)}" + ("" if refs else " (no acknowledged policy snapshot)"))
    for ref in refs:
        out(f"    {ref['url']} {ref['sha256'][:16]}")


@app.command("build")
def build(
    spec: Annotated[
        Path,
        typer.Option(help="Packet spec JSON: provider, action, fields, disclosures, compliance."),
    ],
    media: Annotated[
        list[Path] | None, typer.Option(help="A media file (repeat for several).")
    ] = None,
    provider: Annotated[str | None, typer.Option(help="Provider; must match the spec's.")] = None,
    run_id: Annotated[
        str | None, typer.Option(help="Run the packet belongs to (written under it).")
    ] = None,
    copy: Annotated[
        bool, typer.Option(help="Copy the media into the run's media/ directory.")
    ] = False,
    as_json: bool = JSON_OPTION,
) -> None:
    """Build the packet; prints its id (the hash to propose and approve) and content.

    Sizes and SHA-256 come from the media bytes, types from their content (never the
    file name); the provider's current acknowledged policy snapshots are referenced.
    Building the same inputs again gives the same id and writes nothing new."""
    from autopack.services.packet_refs import packet_service

    with runtime() as rt:
        built = packet_service(rt).build(
            spec, list(media or []), provider=provider, run_id=run_id, copy=copy
        )
        shown = built.to_dict(rt.settings.workspace_path.resolve())
    if as_json:
        out_json(shown)
        return
    _print(shown)
    out(("written" if built.created else "already built (same id)") + f": {shown['path']}")
    out(
        f"propose with: autopack actions propose --provider {built.document['provider']} "
        f"--action {built.document['action']} --packet {built.packet_id} --key <key>"
    )


@app.command("show")
def show(
    packet_id: Annotated[str, typer.Argument(help="The packet's id (64 hex digits).")],
    as_json: bool = JSON_OPTION,
) -> None:
    """Print a packet: text, media names, sizes and hashes, disclosures, policy refs."""
    from autopack.services.packet_refs import packet_service

    with runtime() as rt:
        built = packet_service(rt).show(packet_id)
        shown = built.to_dict(rt.settings.workspace_path.resolve())
    if as_json:
        out_json(shown)
        return
    _print(shown)
