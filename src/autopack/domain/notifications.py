"""Notifications of what waits for a person: kinds, dedupe keys, webhook bodies,
signatures and the retry schedule. Pure: the outbox and the delivery live in
``services.notifications``.

A notification is written once, in the transaction of the change that causes it
(an outbox row), and delivered at least once; its ``id`` is stable across every
attempt, so a receiver that keeps the ids it has seen gets each one exactly once.

Signature: ``X-Autopack-Signature: sha256=<hex>`` is HMAC-SHA256, keyed with
``AUTOPACK_NOTIFY_SECRET``, over ``<timestamp>.<body>``: the decimal Unix time
sent in ``X-Autopack-Timestamp``, a dot, and the exact body bytes. A receiver
recomputes it and refuses a stale timestamp (replays).
"""

from __future__ import annotations

import enum
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any, Final

from autopack.domain.canonical import canonical_json

ID_HEADER: Final = "X-Autopack-Notification-Id"
KIND_HEADER: Final = "X-Autopack-Notification-Kind"
TIMESTAMP_HEADER: Final = "X-Autopack-Timestamp"
SIGNATURE_HEADER: Final = "X-Autopack-Signature"
SIGNATURE_PREFIX: Final = "sha256="
MAX_BACKOFF_SECONDS: Final = 3600.0


class NotificationKind(enum.StrEnum):
    APPROVAL_PENDING = "approval_pending"  # a new approval waits for a person
    ACTION_HELD = "action_held"  # a gate holds an approved action (halt, credentials)
    HALT_ENGAGED = "halt_engaged"  # a halt was engaged
    NEEDS_ATTENTION = "needs_attention"  # an action reached needs_attention
    TEST = "test"  # `autopack notify test`


class NotificationFormat(enum.StrEnum):
    JSON = "json"  # the envelope as canonical JSON
    SLACK = "slack"  # Slack-compatible {"text": ...}


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for its (next) attempt, or leased by a deliverer
    DELIVERED = "delivered"  # the receiver answered 2xx
    DEAD = "dead"  # every attempt failed: a person looks (`autopack notify status`)


def notification_id(dedupe_key: str) -> str:
    """The stable id a receiver dedupes on: derived from what the notification is
    about, so the same cause can never produce two ids."""
    return "ntf_" + hashlib.sha256(dedupe_key.encode("utf-8")).hexdigest()[:32]


def approval_pending_key(approval_id: int) -> str:
    return f"approval_pending:{approval_id}"


def halt_engaged_key(halt_id: int) -> str:
    return f"halt_engaged:{halt_id}"


def needs_attention_key(action_key: str, seq: int) -> str:
    """One per arrival: ``seq`` is the event that moved the action there."""
    return f"needs_attention:{seq}:{action_key}"


def action_held_key(action_key: str, reason: str) -> str:
    """One per (action, hold reason): a poll that finds the same hold again adds nothing;
    a different reason (another halt, a paused account) is a new notification."""
    digest = hashlib.sha256(reason.encode("utf-8")).hexdigest()[:16]
    return f"action_held:{digest}:{action_key}"


def envelope(
    *, notification: str, kind: str, created_at: str, data: Mapping[str, Any]
) -> dict[str, Any]:
    return {"id": notification, "kind": kind, "created_at": created_at, "data": dict(data)}


def summary_line(kind: str, data: Mapping[str, Any]) -> str:
    """One line for people (the Slack text and the status listing)."""
    if kind == NotificationKind.APPROVAL_PENDING:
        actions = data.get("actions") or []
        what = ", ".join(f"{a['provider']}/{a['action']} {a['key']}" for a in actions[:5])
        more = f" and {len(actions) - 5} more" if len(actions) > 5 else ""
        return (
            f"Approval {data.get('approval_id')} waits for a person "
            f"(requested by {data.get('requested_by')}, expires {data.get('expires_at')}): "
            f"{what}{more}. Hash {data.get('subject_hash')}"
        )
    if kind == NotificationKind.ACTION_HELD:
        return (
            f"Action {data.get('key')} ({data.get('provider')}/{data.get('action')}) "
            f"is held: {data.get('reason')}"
        )
    if kind == NotificationKind.HALT_ENGAGED:
        return (
            f"Halt {data.get('halt_id')} engaged on {data.get('scope')} by "
            f"{data.get('engaged_by')}: {data.get('reason')}"
        )
    if kind == NotificationKind.NEEDS_ATTENTION:
        return (
            f"Action {data.get('key')} ({data.get('provider')}/{data.get('action')}) "
            f"needs attention: {data.get('reason') or 'a person must decide'}"
        )
    return str(data.get("message") or kind)


def render_body(fmt: NotificationFormat, body: Mapping[str, Any]) -> bytes:
    """The exact bytes sent (and signed) for one envelope."""
    if fmt is NotificationFormat.SLACK:
        text = f"[autopack] {summary_line(str(body['kind']), body['data'])} ({body['id']})"
        return canonical_json({"text": text})
    return canonical_json(body)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """``sha256=<hex>`` of HMAC-SHA256(secret, "<timestamp>." + body)."""
    signed = str(timestamp).encode("ascii") + b"." + body
    digest = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def verify_signature(secret: str, timestamp: int, body: bytes, header: str) -> bool:
    """What a receiver does (and the tests): constant-time comparison."""
    return hmac.compare_digest(signature(secret, timestamp, body), header)


def backoff_seconds(attempts: int, base: float) -> float:
    """Delay before the next attempt after ``attempts`` failed ones: base, 2x, 4x..."""
    if attempts < 1:
        return 0.0
    return float(min(MAX_BACKOFF_SECONDS, base * (2 ** min(attempts - 1, 30))))
