"""`autopack approvals ...`: the human side of the ledger."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from autopack.cli._common import AS_OPTION, JSON_OPTION, acting_as, err, out, out_json, runtime
from autopack.domain.canonical import MAX_RECORD_ID
from autopack.services.approvals import ApprovalService
from autopack.services.ledger import DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT

app = typer.Typer(help="Approvals: bound to a payload hash, single use, expire after 24 h.")


def _line(body: dict[str, Any]) -> str:
    return (
        f"{body['id']}  {body['status']}  {body['category']}  hash {body['subject_hash']}  "
        f"requested by {body['requested_by']}  expires {body['expires_at']}"
    )


@app.command("list")
def list_approvals(
    status: Annotated[
        str | None,
        typer.Option(help="pending (default), approved, rejected, expired, superseded, all."),
    ] = "pending",
    limit: Annotated[int, typer.Option(min=1, max=MAX_LIST_LIMIT, help="Page size.")] = (
        DEFAULT_LIST_LIMIT
    ),
    cursor: Annotated[
        str | None, typer.Option(help="Next page: the cursor the previous page printed.")
    ] = None,
    as_json: bool = JSON_OPTION,
) -> None:
    """Approvals waiting for a person (oldest first), with what each would send.

    One page at a time; when there are more, the command for the next page is
    printed on stderr."""
    with runtime() as rt:
        items, next_cursor = ApprovalService(rt).page(
            None if status == "all" else status, limit, cursor
        )
    if as_json:
        out_json(items)
    elif not items:
        out("no approvals")
    for body in [] if as_json else items:
        out(_line(body))
        for a in body["actions"]:
            out(f"    {a['key']}  {a['provider']}/{a['action']}  {a['status']}")
    if next_cursor is not None:
        err(f"more: --cursor {next_cursor}")


@app.command("approve")
def approve(
    approval_id: Annotated[int, typer.Argument(min=1, max=MAX_RECORD_ID, help="Approval id.")],
    hash_: Annotated[str, typer.Option("--hash", help="The exact hash shown for the action.")],
    approver: Annotated[str | None, AS_OPTION] = None,
    as_json: bool = JSON_OPTION,
) -> None:
    """Approve exactly this hash (refused when it differs, was used, or expired).

    Under the project's two-person rule, the first approval is recorded and a
    second, different person must approve the same hash before anything is sent."""
    with runtime() as rt:
        body = ApprovalService(rt).approve(approval_id, hash_=hash_, approver=acting_as(approver))
    if as_json:
        out_json(body)
    elif body["status"] == "pending":
        given = sum(1 for d in body["decisions"] if d["decision"] == "approve")
        out(
            f"approval {body['id']}: {given} of {body['required_approvals']} approvals; "
            "waiting for a second, different person"
        )
    else:
        out(f"approved {body['id']}: {', '.join(body['actions'])}")


@app.command("reject")
def reject(
    approval_id: Annotated[int, typer.Argument(min=1, max=MAX_RECORD_ID, help="Approval id.")],
    rejecter: Annotated[str | None, AS_OPTION] = None,
    reason: Annotated[str | None, typer.Option(help="Why (recorded, redacted).")] = None,
    as_json: bool = JSON_OPTION,
) -> None:
    """Reject: the covered actions become rejected and are never sent."""
    with runtime() as rt:
        body = ApprovalService(rt).reject(approval_id, rejecter=acting_as(rejecter), reason=reason)
    if as_json:
        out_json(body)
    else:
        out(f"rejected {body['id']}: {', '.join(body['actions'])}")


@app.command("batch")
def batch(
    keys: Annotated[list[str], typer.Argument(help="Idempotency keys awaiting approval.")],
    requested_by: Annotated[str | None, AS_OPTION] = None,
    as_json: bool = JSON_OPTION,
) -> None:
    """One approval for several awaiting actions, bound to the hash of their hashes."""
    with runtime() as rt:
        body = ApprovalService(rt).request_batch(keys, requested_by=acting_as(requested_by))
    if as_json:
        out_json(body)
    else:
        out(_line(body))
