"""`autopack notify ...`: the webhook that tells people what waits for them."""

from __future__ import annotations

import os
import socket
import threading
from typing import Annotated, Any

import typer

from autopack.cli._common import JSON_OPTION, err, out, out_json, runtime
from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import ConfigurationError

app = typer.Typer(
    help=(
        "Notifications: new pending approvals, held actions, engaged halts and actions "
        "needing attention, posted signed to AUTOPACK_NOTIFY_WEBHOOK_URL through a "
        "durable outbox (the worker delivers them too)."
    )
)


@app.command("deliver")
def deliver(
    once: Annotated[
        bool, typer.Option("--once", help="Deliver what is due now, then exit.")
    ] = False,
    poll_seconds: Annotated[
        float, typer.Option(min=0.05, max=3600, help="Seconds between passes.")
    ] = 2.0,
    as_json: bool = JSON_OPTION,
) -> None:
    """Find new holds and deliver due notifications (what `autopack worker` also does).

    SIGTERM or Ctrl-C stops it after the delivery in flight is recorded."""
    from autopack.cli.worker import WorkerInterruptedError, stop_on_signals
    from autopack.db.schema import ensure_at_head
    from autopack.services.notifications.delivery import notification_duty

    name = f"notify-{socket.gethostname()[:24]}-{os.getpid()}"
    totals = {"holds_written": 0, "delivered": 0, "failed": 0}
    with runtime() as rt:
        ensure_at_head(rt.engine)
        duty = notification_duty(rt, owner=name)
        if duty is None:
            raise ConfigurationError(
                "notifications are off: set AUTOPACK_NOTIFY_WEBHOOK_URL and AUTOPACK_NOTIFY_SECRET",
                code=ErrorCode.WEBHOOK_NOT_CONFIGURED,
            )
        stop = threading.Event()
        grace = duty.deliverer.lease_seconds
        if not once:
            err(f"autopack notify deliver {name}: polling every {poll_seconds}s (Ctrl-C stops)")
        try:
            with stop_on_signals(stop, grace):
                while not stop.is_set():
                    for key, value in duty(stop).items():
                        totals[key] += value
                    if once or stop.wait(poll_seconds):
                        break
        except WorkerInterruptedError as exc:
            err(f"autopack notify deliver {name}: {exc}")
            raise typer.Exit(143) from None
        finally:
            duty.close()
    if as_json:
        out_json(totals)
    else:
        out(
            f"delivered: {totals['delivered']}  failed attempts: {totals['failed']}  "
            f"new holds: {totals['holds_written']}"
        )


@app.command("status")
def status(as_json: bool = JSON_OPTION) -> None:
    """Outbox counts (pending, in flight, retrying, delivered, dead) and the dead ones."""
    from autopack.services.notifications.delivery import status_report

    with runtime() as rt:
        report = status_report(rt)
    if as_json:
        out_json(report)
        return
    counts = report["counts"]
    out(f"webhook: {'configured' if report['enabled'] else 'not configured'}")
    out(
        f"pending: {counts['pending']} (in flight {report['in_flight']}, retrying "
        f"{report['retrying']})  delivered: {counts['delivered']}  dead: {counts['dead']}"
    )
    for item in report["dead"]:
        out(_dead_line(item))
    if report["dead"]:
        out("send them again with: autopack notify retry --all")


def _dead_line(item: dict[str, Any]) -> str:
    return (
        f"dead {item['id']}  {item['kind']}  {item['subject']}  attempts {item['attempts']}  "
        f"last error: {item['last_error'] or '-'}"
    )


@app.command("retry")
def retry(
    notification: Annotated[
        str | None, typer.Argument(help="Notification id (ntf_...) of a dead one.")
    ] = None,
    all_dead: Annotated[bool, typer.Option("--all", help="Every dead notification.")] = False,
    as_json: bool = JSON_OPTION,
) -> None:
    """Send dead notifications again, with a fresh set of attempts."""
    from autopack.services.notifications.delivery import retry_dead

    if (notification is None) == (not all_dead):
        raise typer.BadParameter("name one notification id, or pass --all (not both)")
    with runtime() as rt:
        count = retry_dead(rt, None if all_dead else notification)
    if as_json:
        out_json({"revived": count})
    else:
        out(f"revived: {count}")


@app.command("test")
def send_test_notification(
    url: Annotated[
        str | None,
        typer.Option(help="Send to this URL instead of AUTOPACK_NOTIFY_WEBHOOK_URL."),
    ] = None,
    as_json: bool = JSON_OPTION,
) -> None:
    """Send one signed test notification now; exit 0 when the receiver answers 2xx."""
    from autopack.services.notifications.delivery import send_test

    with runtime() as rt:
        result = send_test(rt, url=url)
    if as_json:
        out_json(result)
    else:
        out(
            f"ok: {result['webhook']} answered HTTP {result['status_code']} "
            f"({result['format']}, id {result['id']})"
        )
