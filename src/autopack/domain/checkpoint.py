"""Chain checkpoints, pure: an anchor for the event chain kept outside the database.

The event chain is unkeyed: anyone who can write the database can rewrite an
action's events and recompute every hash after it, and ``verify-chain`` alone
would still say ok. A checkpoint closes that gap for everything before it: it
records, for every action, the sequence number and hash of its newest event,
signed with an HMAC key derived from ``AUTOPACK_SECRET_KEY`` (which the database
does not hold). Kept somewhere the database's writers cannot reach, it lets
``verify-chain --checkpoint FILE`` prove that no event up to that point was
rewritten or removed: events are insert-only, so each recorded (action, seq)
must still carry the recorded hash.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from typing import Any, Final

from autopack.domain.canonical import canonical_json
from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import CheckFailedError, InvalidInputError

CHECKPOINT_SCHEMA: Final = "autopack.chain-checkpoint/1"
SIGNATURE_PREFIX: Final = "hmac-sha256:"
_KEY_LABEL: Final = b"autopack chain checkpoint v1"


def checkpoint_body(heads: Iterable[tuple[str, int, str]]) -> dict[str, Any]:
    """What a checkpoint records: every action's newest (seq, hash), sorted by key."""
    rows = sorted(heads)
    return {
        "schema": CHECKPOINT_SCHEMA,
        "actions": len(rows),
        "events": sum(seq for _, seq, _ in rows),
        "heads": [[key, seq, digest] for key, seq, digest in rows],
    }


def _signature(body: Mapping[str, Any], secret: str) -> str:
    # A key of its own, derived from the secret: a checkpoint signature is never
    # usable as anything else the secret protects.
    key = hmac.new(secret.encode("utf-8"), _KEY_LABEL, hashlib.sha256).digest()
    return SIGNATURE_PREFIX + hmac.new(key, canonical_json(body), hashlib.sha256).hexdigest()


def sign_checkpoint(body: Mapping[str, Any], secret: str) -> dict[str, Any]:
    return {"checkpoint": dict(body), "signature": _signature(body, secret)}


def _bad(message: str) -> InvalidInputError:
    return InvalidInputError(f"checkpoint file: {message}", code=ErrorCode.INVALID_CHECKPOINT)


def open_checkpoint(document: Any, secret: str) -> list[tuple[str, int, str]]:
    """The (key, seq, hash) heads of a signed checkpoint; refuses a malformed file
    (bad input) and a signature that does not verify (check failed)."""
    if not isinstance(document, Mapping) or set(document) != {"checkpoint", "signature"}:
        raise _bad('expected {"checkpoint": {...}, "signature": "hmac-sha256:..."}')
    body, signature = document["checkpoint"], document["signature"]
    if not isinstance(body, Mapping) or body.get("schema") != CHECKPOINT_SCHEMA:
        raise _bad(f"schema must be {CHECKPOINT_SCHEMA!r}")
    heads = body.get("heads")
    if not isinstance(heads, list) or not all(
        isinstance(h, list)
        and len(h) == 3
        and isinstance(h[0], str)
        and isinstance(h[1], int)
        and not isinstance(h[1], bool)
        and isinstance(h[2], str)
        for h in heads
    ):
        raise _bad("heads must be a list of [key, seq, hash]")
    if not isinstance(signature, str) or not hmac.compare_digest(
        signature, _signature(body, secret)
    ):
        raise CheckFailedError(
            "checkpoint signature does not verify: the file was changed, or it was "
            "signed with another AUTOPACK_SECRET_KEY",
            code=ErrorCode.CHECKPOINT_SIGNATURE_INVALID,
        )
    return [(str(k), int(s), str(d)) for k, s, d in heads]
