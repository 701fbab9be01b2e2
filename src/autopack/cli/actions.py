"""`autopack actions ...`: propose, inspect, reconcile, cancel, verify and export the ledger."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from autopack.cli._common import AS_OPTION, JSON_OPTION, acting_as, err, out, out_json, runtime
from autopack.domain.canonical import MAX_NESTING_DEPTH, parse_json_strict
from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import InvalidInputError
from autopack.domain.ledger import MAX_PAYLOAD_BYTES, ActionStatus
from autopack.services.executor import Executor
from autopack.services.ledger import (
    DEFAULT_LIST_LIMIT,
    DEFAULT_REQUESTER,
    IntentRequest,
    LedgerService,
)

app = typer.Typer(
    help="The external-action ledger: every side effect, its approval, attempts and history."
)

STATUSES = ", ".join(s.value for s in ActionStatus)
RENDER_PREVIEW_KEY = "render-preview"


def read_payload(source: str) -> Any:
    """A JSON object from a file (or '-' for stdin); refused before anything is written."""
    limit = MAX_PAYLOAD_BYTES * 4  # raw text may carry whitespace; canonical size is checked later
    if source == "-":
        data = sys.stdin.buffer.read(limit + 1)
    else:
        path = Path(source)
        try:
            with path.open("rb") as handle:
                data = handle.read(limit + 1)
        except OSError as exc:
            raise InvalidInputError(
                f"cannot read payload file {source!r}: {exc.strerror}",
                code=ErrorCode.PAYLOAD_UNREADABLE,
            ) from exc
    if len(data) > limit:
        raise InvalidInputError(
            f"payload file is larger than {limit} bytes; the canonical limit is "
            f"{MAX_PAYLOAD_BYTES}",
            code=ErrorCode.PAYLOAD_TOO_LARGE,
        )
    return parse_json_strict(data, max_depth=MAX_NESTING_DEPTH)


def payload_or_packet(payload: str | None, packet: str | None, workspace: Path) -> Any:
    """The payload from exactly one of --payload FILE and --packet ID."""
    if (payload is None) == (packet is None):
        raise InvalidInputError(
            "give exactly one of --payload FILE and --packet ID", code=ErrorCode.INVALID_INPUT
        )
    if packet is not None:
        from autopack.services.packets import PacketService

        return PacketService(workspace).show(packet).document
    assert payload is not None
    return read_payload(payload)


def _when(value: Any) -> str:
    return "-" if value is None else str(value)


@app.command("propose")
def propose(
    provider: Annotated[str, typer.Option(help="Provider name, e.g. sandbox.")],
    action: Annotated[str, typer.Option(help="Provider action, e.g. video.upload.")],
    key: Annotated[str, typer.Option(help="Idempotency key: one action per key, forever.")],
    payload: Annotated[
        str | None, typer.Option(help="JSON object file ('-' for stdin). No floats.")
    ] = None,
    packet: Annotated[
        str | None,
        typer.Option(help="A publish packet's id: the payload of a publish or list action."),
    ] = None,
    account: Annotated[str, typer.Option(help="Provider account.")] = "default",
    project: Annotated[str | None, typer.Option(help="Project (its policy applies).")] = None,
    run_id: Annotated[str | None, typer.Option(help="Run this action belongs to.")] = None,
    requested_by: Annotated[
        str, typer.Option("--as", help="Who proposes (cannot approve it by default).")
    ] = DEFAULT_REQUESTER,
    as_json: bool = JSON_OPTION,
) -> None:
    """Record an intent; prints the record, its dry-run render and the hash to approve.

    The payload is a JSON file (--payload) or a built publish packet (--packet ID)."""
    with runtime() as rt:
        body = payload_or_packet(payload, packet, rt.settings.workspace_path)
        proposal = LedgerService(rt).propose(
            IntentRequest(
                provider=provider,
                action=action,
                account=account,
                key=key,
                payload=body,
                project=project,
                run_id=run_id,
                requested_by=requested_by,
            )
        )
    if as_json:
        out_json(proposal.to_dict())
        return
    record = proposal.record
    out(("recorded" if proposal.created else "already recorded (same hash)") + f": {record.key}")
    out(f"status: {record.status}")
    out(f"provider: {record.provider}  action: {record.action}  account: {record.account}")
    out(f"category: {record.category}")
    out(f"payload_hash: {record.payload_hash}")
    out(f"request_hash: {record.request_hash}")
    out(f"approval: {_when(record.approval_id)}")
    render = proposal.rendered.to_dict()
    out(f"render: {render['method']} {render['url']}")
    out_json(render)
    if record.status == ActionStatus.AWAITING_APPROVAL:
        out(
            f"approve with: autopack approvals approve {record.approval_id} "
            f"--hash {record.payload_hash} --as <name>"
        )


@app.command("render")
def render(
    provider: Annotated[str, typer.Option(help="Provider name, e.g. youtube.")],
    action: Annotated[str, typer.Option(help="Provider action, e.g. video.upload.")],
    payload: Annotated[
        str | None, typer.Option(help="JSON object file ('-' for stdin). No floats.")
    ] = None,
    packet: Annotated[
        str | None,
        typer.Option(help="A publish packet's id: the payload of a publish or list action."),
    ] = None,
    account: Annotated[str, typer.Option(help="Provider account.")] = "default",
    key: Annotated[
        str,
        typer.Option(
            help="Idempotency key the render is for: provider-side ids and markers derive "
            "from it, so pass the key you will propose with to see those exact bytes."
        ),
    ] = RENDER_PREVIEW_KEY,
) -> None:
    """Print the exact request(s) an action would send, as JSON; records nothing.

    Method, URL, headers (secrets masked) and body of each request, in order, with
    the payload and request hashes an approval binds to. Needs no database."""
    # Imported here: rendering needs the adapters, not the ledger's storage.
    from autopack.services.ledger.intake import prepare_intent
    from autopack.services.providers import ProviderRegistry
    from autopack.settings import load_settings

    settings = load_settings()
    body = payload_or_packet(payload, packet, settings.workspace_path)
    registry = ProviderRegistry(settings)
    try:
        prepared = prepare_intent(
            IntentRequest(provider=provider, action=action, account=account, key=key, payload=body),
            registry,
        )
        rendered = prepared.rendered
    finally:
        registry.close()
    out_json(
        {
            "provider": provider,
            "action": action,
            "account": account,
            "key": key,
            "payload_hash": prepared.payload_hash,
            "request_hash": rendered.request_hash,
            "render": rendered.to_dict(),
        }
    )


@app.command("list")
def list_actions(
    status: Annotated[str | None, typer.Option(help=f"Only this status: {STATUSES}.")] = None,
    project: Annotated[str | None, typer.Option(help="Only this project.")] = None,
    run_id: Annotated[str | None, typer.Option(help="Only this run.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Page size.")] = DEFAULT_LIST_LIMIT,
    cursor: Annotated[
        str | None, typer.Option(help="Next page: the cursor the previous page printed.")
    ] = None,
    as_json: bool = JSON_OPTION,
) -> None:
    """List actions, newest first, one page at a time; when there are more, the
    command for the next page is printed on stderr."""
    with runtime() as rt:
        records, next_cursor = LedgerService(rt).page(
            status, project=project, run_id=run_id, limit=limit, cursor=cursor
        )
    if as_json:
        out_json([r.to_dict() for r in records])
    elif not records:
        out("no actions")
    for r in [] if as_json else records:
        d = r.to_dict()
        out(
            f"{d['key']}  {d['status']}  {d['provider']}/{d['action']}  "
            f"{d['created_at']}  {d['provider_object_id'] or '-'}"
        )
    if next_cursor is not None:
        err(f"more: --cursor {next_cursor}")


@app.command("show")
def show(key: str, as_json: bool = JSON_OPTION) -> None:
    """What, when, which approval, attempts, provider object id and the full history."""
    with runtime() as rt:
        detail = LedgerService(rt).show(key)
    if as_json:
        out_json(detail)
        return
    a = detail["action"]
    out(f"key: {a['key']}")
    out(f"what: {a['provider']}/{a['action']} account {a['account']} ({a['category']})")
    out(f"status: {a['status']}")
    if detail.get("waiting_reason"):
        out(f"waiting: {detail['waiting_reason']}")
    out(f"provider_object_id: {_when(a['provider_object_id'])}")
    out(f"payload_hash: {a['payload_hash']}")
    out(f"proposed: {a['created_at']} by {a['requested_by']}")
    out(f"started: {_when(a['started_at'])}  completed: {_when(a['completed_at'])}")
    out(f"attempts: {a['attempt_count']}  retries: {a['retry_count']}  fencing: {a['fencing']}")
    if a["last_error"]:
        out(f"last_error: {a['last_error']}")
    ap = detail["approval"]
    if ap is None:
        out("approval: none")
    else:
        out(
            f"approval: {ap['id']} {ap['status']} by {ap['decided_by'] or '-'} at "
            f"{_when(ap['decided_at'])} (expires {ap['expires_at']})"
        )
    out("history:")
    for ev in detail["events"]:
        out(
            f"  {ev['seq']:>3} {ev['at']} {ev['event']}: {ev['from'] or '-'} -> {ev['to']} "
            f"[{ev['actor']}, fencing {ev['fencing']}]"
        )


@app.command("reconcile")
def reconcile(as_json: bool = JSON_OPTION) -> None:
    """Expire lapsed leases and approvals; resolve unknown actions through provider lookup."""
    with runtime() as rt:
        report = Executor(rt, worker="reconciler").reconcile()
    if as_json:
        out_json(report)
        return
    out(
        f"expired leases: {report['expired_leases']}  expired approvals: "
        f"{report['expired_approvals']}"
    )
    for name in ("succeeded", "retry_wait", "needs_attention", "still_unknown"):
        keys = report[name]
        out(f"{name}: {len(keys)}" + (f" ({', '.join(keys)})" if keys else ""))


@app.command("cancel")
def cancel(
    key: str,
    actor: Annotated[str | None, AS_OPTION] = None,
    reason: Annotated[str | None, typer.Option(help="Why (recorded, redacted).")] = None,
    as_json: bool = JSON_OPTION,
) -> None:
    """Cancel an action that is not in flight (awaiting approval, approved, retry_wait)."""
    with runtime() as rt:
        record = LedgerService(rt).cancel(key, actor=acting_as(actor), reason=reason)
    if as_json:
        out_json(record.to_dict())
    else:
        out(f"cancelled: {record.key}")


@app.command("resolve")
def resolve(
    key: str,
    outcome: Annotated[str, typer.Option(help="succeeded or failed (what you found).")],
    actor: Annotated[str | None, AS_OPTION] = None,
    object_id: Annotated[
        str | None, typer.Option(help="Provider object id (required for succeeded).")
    ] = None,
    reason: Annotated[str | None, typer.Option(help="Why (recorded, redacted).")] = None,
    as_json: bool = JSON_OPTION,
) -> None:
    """A person settles a needs_attention (or unknown) action; nothing is sent."""
    with runtime() as rt:
        record = LedgerService(rt).resolve(
            key,
            outcome=outcome,
            actor=acting_as(actor),
            provider_object_id=object_id,
            reason=reason,
        )
    if as_json:
        out_json(record.to_dict())
    else:
        out(f"resolved {record.key}: {record.status}")


@app.command("verify-chain")
def verify_chain(
    checkpoint: Annotated[
        Path | None,
        typer.Option(
            help="A file from `actions checkpoint`: also prove that no event it "
            "anchors was rewritten or removed since.",
        ),
    ] = None,
    as_json: bool = JSON_OPTION,
) -> None:
    """Recompute the event hash chain: exit 0 when intact, 1 on any break."""
    document = None
    if checkpoint is not None:
        try:
            document = parse_json_strict(checkpoint.read_bytes())
        except OSError as exc:
            raise InvalidInputError(
                f"cannot read {checkpoint}: {exc.strerror}", code=ErrorCode.INVALID_CHECKPOINT
            ) from exc
    with runtime() as rt:
        report = LedgerService(rt).verify_chain(document)
    if as_json:
        out_json(report)
        return
    out(f"ok: {report['events']} events over {report['actions']} actions verify")
    if checkpoint is not None:
        out(f"checkpoint {checkpoint}: every anchored event is unchanged")


@app.command("checkpoint")
def checkpoint(
    out_file: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Where to write it. Keep it where the database's writers cannot reach.",
        ),
    ],
    as_json: bool = JSON_OPTION,
) -> None:
    """Sign the chain's current head (every action's newest event) with a key derived
    from AUTOPACK_SECRET_KEY, so `verify-chain --checkpoint FILE` can later prove
    that nothing before it was rewritten, even by someone who recomputed the hashes."""
    with runtime() as rt:
        document = LedgerService(rt).write_checkpoint(out_file)
    body = document["checkpoint"]
    if as_json:
        out_json({"path": str(out_file), "actions": body["actions"], "events": body["events"]})
    else:
        out(f"checkpoint of {body['events']} events over {body['actions']} actions: {out_file}")


@app.command("export")
def export(
    run_id: Annotated[str, typer.Option(help="Run whose actions to export.")],
    as_json: bool = JSON_OPTION,
) -> None:
    """Write <run dir>/ledger/actions.json (deterministic, redacted); prints its path."""
    with runtime() as rt:
        path, document = LedgerService(rt).export_run(run_id)
    if as_json:
        out_json({"path": path, "actions": len(document["actions"])})
    else:
        out(path)
