"""The external-action ledger as pure logic: states, transitions, retries, categories.

One current-state row per idempotency key moves through these states; every
move is a compare-and-set on (state, fencing counter) done by the services,
and every move must be allowed by ``TRANSITIONS`` below. Nothing here does I/O.

    awaiting_approval -> approved | rejected | expired | cancelled
    approved          -> dispatching | expired | cancelled
    dispatching       -> succeeded | failed | retry_wait | unknown | needs_attention
    retry_wait        -> dispatching | failed | cancelled
    unknown           -> succeeded | retry_wait | failed | needs_attention
    needs_attention   -> succeeded | failed          (a person decides)

``unknown`` means "sent, outcome not known". It is resolved only through the
provider's lookup (see ``reconcile_decision``), never by a blind retry, and a
"not found" answer counts only after a settle window.
"""

from __future__ import annotations

import enum
import hashlib
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from json.encoder import encode_basestring as _quote  # C-accelerated, ensure_ascii=False
from typing import Final, Literal

from autopack.domain.canonical import canonical_json
from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import ConflictError, InvalidInputError
from autopack.domain.providers import LookupStatus, Outcome


class ActionStatus(enum.StrEnum):
    AWAITING_APPROVAL = "awaiting_approval"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    DISPATCHING = "dispatching"
    RETRY_WAIT = "retry_wait"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    UNKNOWN = "unknown"
    NEEDS_ATTENTION = "needs_attention"
    CANCELLED = "cancelled"


S = ActionStatus

TRANSITIONS: Final[dict[ActionStatus, frozenset[ActionStatus]]] = {
    S.AWAITING_APPROVAL: frozenset({S.APPROVED, S.REJECTED, S.EXPIRED, S.CANCELLED}),
    S.APPROVED: frozenset({S.DISPATCHING, S.EXPIRED, S.CANCELLED}),
    # dispatching -> dispatching: a progress checkpoint of a multi-request dispatch.
    S.DISPATCHING: frozenset(
        {S.DISPATCHING, S.SUCCEEDED, S.FAILED, S.RETRY_WAIT, S.UNKNOWN, S.NEEDS_ATTENTION}
    ),
    S.RETRY_WAIT: frozenset({S.DISPATCHING, S.FAILED, S.CANCELLED}),
    S.UNKNOWN: frozenset({S.SUCCEEDED, S.RETRY_WAIT, S.FAILED, S.NEEDS_ATTENTION}),
    S.NEEDS_ATTENTION: frozenset({S.SUCCEEDED, S.FAILED}),
    S.REJECTED: frozenset(),
    S.EXPIRED: frozenset(),
    S.SUCCEEDED: frozenset(),
    S.FAILED: frozenset(),
    S.CANCELLED: frozenset(),
}

TERMINAL: Final[frozenset[ActionStatus]] = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)
# States in which nothing is in flight: a person may cancel.
CANCELLABLE: Final[frozenset[ActionStatus]] = frozenset(
    {S.AWAITING_APPROVAL, S.APPROVED, S.RETRY_WAIT}
)
# States a worker may claim.
CLAIMABLE: Final[frozenset[ActionStatus]] = frozenset({S.APPROVED, S.RETRY_WAIT})


class IllegalTransitionError(ConflictError):
    default_code = ErrorCode.ILLEGAL_TRANSITION


def transition(current: ActionStatus | str, target: ActionStatus | str) -> ActionStatus:
    """Return ``target`` when the move is allowed, else raise (the one gate for every move)."""
    cur = ActionStatus(current)
    nxt = ActionStatus(target)
    if nxt not in TRANSITIONS[cur]:
        raise IllegalTransitionError(
            f"action cannot go from {cur.value} to {nxt.value}",
            details={"from": cur.value, "to": nxt.value},
        )
    return nxt


# --- what a dispatch result means -------------------------------------------------


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounded retries with exponential backoff, for NO_EFFECT outcomes only."""

    max_retries: int = 3
    base_seconds: float = 1.0
    cap_seconds: float = 300.0
    # Where a NO_EFFECT outcome goes once retries are used up: failed, or
    # needs_attention for a step a person must see at once (the kill switch's).
    when_exhausted: ActionStatus = ActionStatus.FAILED

    def delay(self, retry_count: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``retry_count + 1`` (deterministic)."""
        backoff = min(self.cap_seconds, self.base_seconds * float(2 ** max(0, retry_count)))
        if retry_after is not None and retry_after > backoff:
            return min(self.cap_seconds, retry_after)
        return backoff


DEFAULT_RETRY_POLICY = RetryPolicy()


def outcome_status(outcome: Outcome, retry_count: int, policy: RetryPolicy) -> ActionStatus:
    """The state a dispatching action moves to after ``outcome``.

    Only NO_EFFECT (proven not to have happened) is retried, and only while
    ``retry_count`` is below the bound. MAYBE_EFFECT becomes ``unknown``.
    """
    if outcome is Outcome.SUCCEEDED:
        return S.SUCCEEDED
    if outcome is Outcome.NO_EFFECT:
        return S.RETRY_WAIT if retry_count < policy.max_retries else policy.when_exhausted
    if outcome is Outcome.MAYBE_EFFECT:
        return S.UNKNOWN
    return S.FAILED


# How many times reconciliation may send an action back for one more dispatch
# after the provider's lookup proved it never happened.
MAX_RECONCILE_REDISPATCHES: Final = 1
# How many times it may send an action back to resume an effect in progress
# (an interrupted upload); each resume continues the same effect, never a new one.
MAX_RECONCILE_RESUMES: Final = 5


def reconcile_decision(
    status: LookupStatus, redispatches: int, *, settled: bool
) -> ActionStatus | None:
    """Where an ``unknown`` action goes after a lookup; None means stay ``unknown``.

    FOUND -> succeeded. UNSUPPORTED -> needs_attention (a person decides; never an
    automatic retry). UNAVAILABLE -> stay unknown, ask again later.

    NOT_FOUND is proof of "no effect" only once ``settled``: the action has been
    ``unknown`` for longer than the settle window (the adapter's request timeout
    plus a margin, see ``services.executor``). An action becomes unknown after a
    read timeout, a 5xx, a lost connection or a lease expiry, and the provider
    may still be processing that very request; a NOT_FOUND before the window has
    passed leaves it ``unknown`` (settling), because a re-dispatch then could
    duplicate the effect at a provider without idempotency keys. A settled
    NOT_FOUND sends the action back to ``retry_wait`` for one more dispatch; a
    second settled NOT_FOUND after that re-dispatch goes to needs_attention
    instead of looping.

    IN_PROGRESS (the effect began and the provider can complete it, e.g. an
    upload session holding part of the bytes) sends it back to ``retry_wait`` at
    once, to resume, up to ``MAX_RECONCILE_RESUMES`` times; then a person decides.
    """
    if status is LookupStatus.IN_PROGRESS:
        return S.RETRY_WAIT if redispatches < MAX_RECONCILE_RESUMES else S.NEEDS_ATTENTION
    if status is LookupStatus.FOUND:
        return S.SUCCEEDED
    if status is LookupStatus.UNSUPPORTED:
        return S.NEEDS_ATTENTION
    if status is LookupStatus.UNAVAILABLE or not settled:
        return None
    if redispatches < MAX_RECONCILE_REDISPATCHES:
        return S.RETRY_WAIT
    return S.NEEDS_ATTENTION


# --- action categories ------------------------------------------------------------


class ActionCategory(enum.StrEnum):
    PUBLISH = "publish"
    LIST = "list"
    TRADE = "trade"
    PAYMENT = "payment"
    OTHER = "other"


# Categories that always need a human approval: no policy can change that.
HUMAN_ONLY: Final[frozenset[ActionCategory]] = frozenset(
    {ActionCategory.PUBLISH, ActionCategory.LIST, ActionCategory.TRADE, ActionCategory.PAYMENT}
)

# Every provider unit declares the categories of its actions (its catalogue);
# the provider registry merges them into one ``Catalogue`` and passes it in.
# Anything not listed is classified by the words in its name, and the word rules
# err towards the sensitive side.
Catalogue = Mapping[tuple[str, str], ActionCategory]

_WORD_RULES: Final[tuple[tuple[ActionCategory, re.Pattern[str]], ...]] = (
    (ActionCategory.PAYMENT, re.compile(r"pay|charge|refund|invoice|transfer|checkout")),
    (ActionCategory.TRADE, re.compile(r"order|trade|buy|sell|position")),
    (ActionCategory.LIST, re.compile(r"listing|product|list_item|inventory")),
    (ActionCategory.PUBLISH, re.compile(r"publish|upload|video|post|tweet|release|insert")),
)


def action_category(provider: str, action: str, catalogue: Catalogue) -> ActionCategory:
    """The declared category of ``provider``/``action``, else the word rules'."""
    known = catalogue.get((provider, action))
    if known is not None:
        return known
    name = action.lower()
    for category, pattern in _WORD_RULES:
        if pattern.search(name):
            return category
    return ActionCategory.OTHER


def always_needs_human(provider: str, action: str, catalogue: Catalogue) -> bool:
    return action_category(provider, action, catalogue) in HUMAN_ONLY


# --- input limits -----------------------------------------------------------------

MAX_PAYLOAD_BYTES: Final = 256 * 1024
KEY_MAX = 200
_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]*")
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]*")
NAME_MAX = 64


def validate_key(key: str) -> str:
    if not key or len(key) > KEY_MAX or _KEY.fullmatch(key) is None:
        raise InvalidInputError(
            f"invalid idempotency key {key[:80]!r}: 1 to {KEY_MAX} of letters, digits and "
            "'._:@-', starting with a letter or digit",
            code=ErrorCode.INVALID_IDEMPOTENCY_KEY,
        )
    return key


NameKind = Literal["provider", "action", "account"]
_INVALID_NAME: Mapping[NameKind, ErrorCode] = {
    "provider": ErrorCode.INVALID_PROVIDER,
    "action": ErrorCode.INVALID_ACTION,
    "account": ErrorCode.INVALID_ACCOUNT,
}


def validate_name(kind: NameKind, value: str) -> str:
    """Provider, action and account names."""
    if not value or len(value) > NAME_MAX or _NAME.fullmatch(value) is None:
        raise InvalidInputError(
            f"invalid {kind} {value[:80]!r}: 1 to {NAME_MAX} of lowercase letters, digits, "
            "'.', '_', '-'",
            code=_INVALID_NAME[kind],
        )
    return value


# --- the event chain --------------------------------------------------------------

GENESIS_HASH: Final = "0" * 64


def _nfc(text: str) -> str:
    return text if text.isascii() else unicodedata.normalize("NFC", text)


def _flat_value(value: str | int | None) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return int.__repr__(value)  # what json.dumps writes for ints (and int enums)
    return _quote(_nfc(value))


def flat_canonical_json(fields: Mapping[str, str | int | None]) -> bytes:
    """canonical_json of a flat object of strings, ints and None, without the
    recursive walk: the same bytes (keys sorted, NFC strings, no whitespace).

    Written out directly for ASCII keys (every key the ledger uses); any other
    key goes through ``canonical_json`` itself, which also refuses keys that
    collide after NFC normalisation."""
    if not all(key.isascii() for key in fields):
        return canonical_json(fields)
    body = ",".join([_quote(key) + ":" + _flat_value(fields[key]) for key in sorted(fields)])
    return ("{" + body + "}").encode("utf-8")


def intent_hash(provider: str, action: str, account: str, key: str, payload_text: str) -> str:
    """The intent's payload hash from its stored canonical payload text.

    Equal to ``canonical_hash(Intent(...).to_hashable())`` when ``payload_text``
    is the canonical JSON of the payload (what the ledger stores); the text is
    spliced in as is, so a stored payload edited into any other bytes hashes
    differently and is refused before dispatch.
    """
    head = flat_canonical_json(
        {"account": account, "action": action, "idempotency_key": key, "payload": 0}
    )
    # head ends with '"payload":0}'; the payload text replaces the 0.
    tail = b"," + flat_canonical_json({"provider": provider})[1:]
    return hashlib.sha256(head[:-2] + payload_text.encode("utf-8") + tail).hexdigest()


def event_hash(
    *,
    prev_hash: str,
    key: str,
    seq: int,
    event: str,
    from_status: str | None,
    to_status: str,
    fencing: int,
    actor: str,
    at: str,
    data: str,
) -> str:
    """Hash of one event row, chained to the previous event of the same action.

    ``at`` is the recorded UTC timestamp (from the runtime clock seam) and
    ``data`` the stored canonical JSON text, so the hash covers exactly what
    the row holds. The bytes hashed are the canonical JSON of these fields
    (built flat: every field is a string, an int or None).
    """
    # The keys in sorted order, written out: this runs for every event.
    text = (
        '{"actor":'
        + _quote(_nfc(actor))
        + ',"at":'
        + _quote(_nfc(at))
        + ',"data":'
        + _quote(_nfc(data))
        + ',"event":'
        + _quote(_nfc(event))
        + ',"fencing":'
        + int.__repr__(fencing)
        + ',"from":'
        + ("null" if from_status is None else _quote(_nfc(from_status)))
        + ',"key":'
        + _quote(_nfc(key))
        + ',"prev":'
        + _quote(_nfc(prev_hash))
        + ',"seq":'
        + int.__repr__(seq)
        + ',"to":'
        + _quote(_nfc(to_status))
        + "}"
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
