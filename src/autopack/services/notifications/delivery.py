"""Delivery: lease due outbox rows, post them, record the answer.

A deliverer claims a batch in one transaction (PostgreSQL: ``FOR UPDATE SKIP
LOCKED``; SQLite: the write lock), stamping each row with its owner token, a
lease and one more attempt; only then does it send. The outcome is written
with a compare-and-set on the owner, so a deliverer whose lease ran out (and
whose row another one took) changes nothing. Delivery is at least once: a
process killed after the receiver got a body but before the answer was
recorded sends it again once the lease expires, with the same notification id,
so receivers that keep the ids they saw get each notification exactly once. A
deliverer stopped gracefully finishes and records what it sent: it repeats
nothing.

A failed attempt waits ``backoff_seconds`` (doubling) before the next one;
after ``notify_max_attempts`` the row is ``dead`` and stays visible in
`autopack notify status` until a person retries it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import func, or_, select, update

from autopack.db.engine import read_only
from autopack.domain.canonical import format_utc, parse_json_strict
from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import CheckFailedError, NotFoundError, UnavailableError
from autopack.domain.notifications import (
    DeliveryStatus,
    NotificationKind,
    backoff_seconds,
    envelope,
    summary_line,
)
from autopack.services.context import Runtime
from autopack.services.notifications.holds import HoldScanner
from autopack.services.notifications.outbox import NOTIFICATIONS
from autopack.services.notifications.webhook import WebhookClient

N = NOTIFICATIONS
DEFAULT_BATCH: Final = 20
LEASE_MARGIN_SECONDS: Final = 1.0
MAX_ERROR_TEXT: Final = 500
DEAD_LISTED: Final = 50


@dataclass(frozen=True, slots=True)
class Leased:
    id: int
    notification_id: str
    kind: str
    payload: str
    created_at: datetime
    attempts: int


class Deliverer:
    """Claims due notifications and posts them to the webhook."""

    def __init__(
        self,
        runtime: Runtime,
        webhook: WebhookClient,
        *,
        owner: str = "notifier",
        max_attempts: int | None = None,
        backoff_base: float | None = None,
    ) -> None:
        self.rt = runtime
        self.webhook = webhook
        self.owner = f"{owner[:40]}:{runtime.entropy(6).hex()}"
        settings = runtime.settings
        self.max_attempts = (
            max_attempts if max_attempts is not None else settings.notify_max_attempts
        )
        self.backoff_base = (
            backoff_base if backoff_base is not None else settings.notify_backoff_seconds
        )
        # The lease outlives one request (connect and read each bounded by the timeout).
        self.lease_seconds = 2 * webhook.timeout_seconds + LEASE_MARGIN_SECONDS

    # -- claim --------------------------------------------------------------------

    def claim(self, limit: int = DEFAULT_BATCH) -> list[Leased]:
        """Lease up to ``limit`` due rows (oldest first). A row whose lease ran out on
        its last allowed attempt becomes dead instead: it may have been delivered, and
        it is not retried without a person."""
        now = self.rt.clock()
        query = (
            select(N.c.id, N.c.notification_id, N.c.kind, N.c.payload, N.c.created_at, N.c.attempts)
            .where(N.c.status == DeliveryStatus.PENDING.value, N.c.next_attempt_at <= now)
            .where(or_(N.c.lease_expires_at.is_(None), N.c.lease_expires_at <= now))
            .order_by(N.c.id)
            .limit(limit)
        )
        if self.rt.engine.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        leased: list[Leased] = []
        with self.rt.engine.begin() as conn:
            for row in conn.execute(query).mappings().all():
                attempts = int(row["attempts"])
                if attempts >= self.max_attempts:
                    conn.execute(
                        update(N)
                        .where(N.c.id == row["id"])
                        .values(
                            status=DeliveryStatus.DEAD.value,
                            lease_owner=None,
                            lease_expires_at=None,
                            last_error="the last attempt's lease expired without an answer",
                            updated_at=now,
                        )
                    )
                    continue
                conn.execute(
                    update(N)
                    .where(N.c.id == row["id"])
                    .values(
                        lease_owner=self.owner,
                        lease_expires_at=now + timedelta(seconds=self.lease_seconds),
                        attempts=attempts + 1,
                        updated_at=now,
                    )
                )
                leased.append(
                    Leased(
                        id=int(row["id"]),
                        notification_id=row["notification_id"],
                        kind=row["kind"],
                        payload=row["payload"],
                        created_at=row["created_at"],
                        attempts=attempts + 1,
                    )
                )
        return leased

    # -- deliver ------------------------------------------------------------------

    def body(self, leased: Leased) -> dict[str, Any]:
        """The envelope sent for a row, redacted again with the current redactor (a
        secret stored since the row was written is masked too)."""
        data = parse_json_strict(leased.payload)
        assert isinstance(data, dict)
        redacted = self.rt.redactor().redact_value(data)
        return envelope(
            notification=leased.notification_id,
            kind=leased.kind,
            created_at=format_utc(leased.created_at),
            data=redacted,
        )

    def deliver(self, leased: Leased) -> bool:
        """Post one leased row and record the answer; True when delivered."""
        result = self.webhook.post(self.body(leased))
        now = self.rt.clock()
        values: dict[str, Any] = {
            "lease_owner": None,
            "lease_expires_at": None,
            "last_status_code": result.status_code,
            "updated_at": now,
        }
        if result.ok:
            values.update(status=DeliveryStatus.DELIVERED.value, delivered_at=now, last_error=None)
        else:
            error = self.rt.redactor().redact_text(result.error or "delivery failed")
            values["last_error"] = error[:MAX_ERROR_TEXT]
            if leased.attempts >= self.max_attempts:
                values["status"] = DeliveryStatus.DEAD.value
            else:
                delay = backoff_seconds(leased.attempts, self.backoff_base)
                values["next_attempt_at"] = now + timedelta(seconds=delay)
        with self.rt.engine.begin() as conn:
            conn.execute(
                update(N)
                .where(N.c.id == leased.id, N.c.lease_owner == self.owner)
                .where(N.c.status == DeliveryStatus.PENDING.value)
                .values(**values)
            )
        return result.ok

    def run_once(
        self, limit: int = DEFAULT_BATCH, stop: threading.Event | None = None
    ) -> dict[str, int]:
        """Claim one batch and deliver it; a stop request leaves the rest of the
        batch to lapse back (its leases expire; nothing was sent for them)."""
        counts = {"delivered": 0, "failed": 0}
        batch = self.claim(limit)
        for index, leased in enumerate(batch):
            if stop is not None and stop.is_set():
                self._release(batch[index:])
                break
            counts["delivered" if self.deliver(leased) else "failed"] += 1
        return counts

    def _release(self, unsent: list[Leased]) -> None:
        """Give back leases of rows this deliverer will not send (a graceful stop);
        the attempt they were charged is returned too, since nothing was sent."""
        now = self.rt.clock()
        with self.rt.engine.begin() as conn:
            for leased in unsent:
                conn.execute(
                    update(N)
                    .where(N.c.id == leased.id, N.c.lease_owner == self.owner)
                    .values(
                        lease_owner=None,
                        lease_expires_at=None,
                        attempts=leased.attempts - 1,
                        updated_at=now,
                    )
                )

    def drain(self, stop: threading.Event | None = None) -> dict[str, int]:
        """Deliver until nothing is due (each row at most once per call)."""
        total = {"delivered": 0, "failed": 0}
        while stop is None or not stop.is_set():
            counts = self.run_once(stop=stop)
            if not counts["delivered"] and not counts["failed"]:
                break
            for name, n in counts.items():
                total[name] += n
            if counts["failed"]:
                break  # failures wait for their backoff; do not spin on them
        return total


class NotificationDuty:
    """What a worker pass does for notifications: find new holds, deliver what is due."""

    def __init__(self, deliverer: Deliverer, holds: HoldScanner) -> None:
        self.deliverer = deliverer
        self.holds = holds

    def __call__(self, stop: threading.Event | None = None) -> dict[str, int]:
        written = self.holds.scan()
        counts = self.deliverer.drain(stop)
        return {"holds_written": written, **counts}

    def close(self) -> None:
        self.deliverer.webhook.close()


# -- status and retry ------------------------------------------------------------------


def notification_dict(row: Any) -> dict[str, Any]:
    data = parse_json_strict(row["payload"])
    assert isinstance(data, dict)
    return {
        "id": row["notification_id"],
        "kind": row["kind"],
        "subject": row["subject"],
        "status": row["status"],
        "attempts": int(row["attempts"]),
        "created_at": format_utc(row["created_at"]),
        "next_attempt_at": format_utc(row["next_attempt_at"]),
        "delivered_at": None if row["delivered_at"] is None else format_utc(row["delivered_at"]),
        "last_status_code": row["last_status_code"],
        "last_error": row["last_error"],
        "summary": summary_line(row["kind"], data),
    }


def status_report(runtime: Runtime, *, listed: int = DEAD_LISTED) -> dict[str, Any]:
    """Counts by status (pending split into waiting and in flight) and the dead rows."""
    now = runtime.clock()
    counts = {s.value: 0 for s in DeliveryStatus}
    with read_only(runtime.engine) as conn:
        for status, n in conn.execute(select(N.c.status, func.count()).group_by(N.c.status)):
            counts[str(status)] = int(n)
        in_flight = conn.execute(
            select(func.count()).where(
                N.c.status == DeliveryStatus.PENDING.value, N.c.lease_expires_at > now
            )
        ).scalar_one()
        retrying = conn.execute(
            select(func.count()).where(N.c.status == DeliveryStatus.PENDING.value, N.c.attempts > 0)
        ).scalar_one()
        dead = [
            notification_dict(r)
            for r in conn.execute(
                select(N)
                .where(N.c.status == DeliveryStatus.DEAD.value)
                .order_by(N.c.id.desc())
                .limit(listed)
            ).mappings()
        ]
    return {
        "enabled": runtime.settings.notifications_enabled,
        "counts": counts,
        "in_flight": int(in_flight),
        "retrying": int(retrying),
        "dead": dead,
    }


def retry_dead(runtime: Runtime, ident: str | None) -> int:
    """A person sends dead notifications again (one by id, or every one): they get
    a fresh set of attempts. Returns how many were revived."""
    now = runtime.clock()
    query = update(N).where(N.c.status == DeliveryStatus.DEAD.value)
    if ident is not None:
        query = query.where(N.c.notification_id == ident)
    with runtime.engine.begin() as conn:
        count = conn.execute(
            query.values(
                status=DeliveryStatus.PENDING.value,
                attempts=0,
                next_attempt_at=now,
                lease_owner=None,
                lease_expires_at=None,
                updated_at=now,
            )
        ).rowcount
    if ident is not None and count == 0:
        raise NotFoundError(
            f"no dead notification {ident!r}", code=ErrorCode.NOTIFICATION_NOT_FOUND
        )
    return int(count)


# -- wiring and the test notification ---------------------------------------------------


def notification_duty(runtime: Runtime, *, owner: str) -> NotificationDuty | None:
    """The worker's notification duty; None when no webhook is configured."""
    from autopack.services.gates import GateService
    from autopack.services.ledger.store import make_store

    store = make_store(runtime)
    if store.outbox is None:
        return None
    webhook = WebhookClient.from_settings(runtime.settings, runtime.clock)
    return NotificationDuty(
        Deliverer(runtime, webhook, owner=owner), HoldScanner(store.outbox, GateService(store))
    )


def send_test(runtime: Runtime, *, url: str | None = None) -> dict[str, Any]:
    """Post one signed ``test`` notification now (not through the outbox); raises
    ``webhook_rejected`` (non-2xx) or ``webhook_unreachable`` (no answer)."""
    webhook = WebhookClient.from_settings(runtime.settings, runtime.clock, url=url)
    now = runtime.clock()
    body = envelope(
        notification="ntf_test_" + runtime.entropy(8).hex(),
        kind=NotificationKind.TEST.value,
        created_at=format_utc(now),
        data={"message": "Autopack test notification: the webhook is reachable and signed."},
    )
    try:
        result = webhook.post(body)
    finally:
        webhook.close()
    origin = webhook.origin  # its path may itself be a secret (Slack's are)
    if result.status_code is None:
        error = runtime.redactor().redact_text(result.error or "no answer")
        raise UnavailableError(
            f"webhook {origin} unreachable: {error}", code=ErrorCode.WEBHOOK_UNREACHABLE
        )
    if not result.ok:
        raise CheckFailedError(
            f"webhook {origin} answered HTTP {result.status_code}",
            code=ErrorCode.WEBHOOK_REJECTED,
            details={"status_code": result.status_code},
        )
    return {
        "id": body["id"],
        "webhook": origin,
        "format": webhook.fmt.value,
        "status_code": result.status_code,
    }
