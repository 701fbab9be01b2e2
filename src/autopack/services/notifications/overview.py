"""What `autopack notify status` shows, for people who may not see the webhook:
outbox counts, the last delivery, the last failure by class, the dead rows.

Nothing here reveals the webhook beyond its origin (a Slack webhook's path is
itself a secret), nor the secret, nor a recorded error's text (it may quote a
receiver's answer): a failure is shown by its class and HTTP status only.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select

from autopack.db.engine import read_only
from autopack.domain.canonical import format_utc
from autopack.services.context import Runtime
from autopack.services.notifications.delivery import N, status_report

# What a lease that ran out records (delivery.py): no answer was received.
_NO_ANSWER_PREFIX = "the last attempt's lease expired"


def webhook_origin(url: str | None) -> str | None:
    """scheme://host[:port] of the webhook, or None when none is set."""
    if url is None:
        return None
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]  # never user:password@
    return f"{parts.scheme}://{host}"


def error_class(status_code: int | None, error: str | None) -> str | None:
    """rejected (the receiver answered other than 2xx), no_answer (the lease ran
    out mid-attempt) or unreachable (no HTTP answer); None without an error."""
    if error is None:
        return None
    if status_code is not None:
        return "rejected"
    if error.startswith(_NO_ANSWER_PREFIX):
        return "no_answer"
    return "unreachable"


def notification_overview(runtime: Runtime) -> dict[str, Any]:
    settings = runtime.settings
    report = status_report(runtime)
    with read_only(runtime.engine) as conn:
        last_delivered = conn.execute(select(func.max(N.c.delivered_at))).scalar_one()
        failure = (
            conn.execute(
                select(N.c.notification_id, N.c.updated_at, N.c.last_status_code, N.c.last_error)
                .where(N.c.last_error.is_not(None))
                .order_by(N.c.updated_at.desc(), N.c.id.desc())
                .limit(1)
            )
            .mappings()
            .first()
        )
    return {
        "webhook": {
            "configured": settings.notifications_enabled,
            "origin": webhook_origin(settings.notify_webhook_url),
            "format": settings.notify_format,
        },
        "counts": report["counts"],
        "in_flight": report["in_flight"],
        "retrying": report["retrying"],
        "last_delivered_at": None if last_delivered is None else format_utc(last_delivered),
        "last_failure": None
        if failure is None
        else {
            "id": failure["notification_id"],
            "at": format_utc(failure["updated_at"]),
            "error_class": error_class(failure["last_status_code"], failure["last_error"]),
            "status_code": failure["last_status_code"],
        },
        "dead": [
            {
                "id": item["id"],
                "kind": item["kind"],
                "subject": item["subject"],
                "attempts": item["attempts"],
                "created_at": item["created_at"],
                "error_class": error_class(item["last_status_code"], item["last_error"]),
                "status_code": item["last_status_code"],
            }
            for item in report["dead"]
        ],
    }
