"""The sandbox provider's wire contract, shared by its server and its adapter.

The server (``autopack.sandbox``) and the adapter (``autopack.providers.sandbox.adapter``)
live in independent layers and never import each other; every name both sides
must agree on (paths, headers, the marker field, modes, fault kinds) is here.
Pure constants and one path helper: no I/O.
"""

from __future__ import annotations

import enum
from pathlib import Path

from autopack.domain.layout import state_dir

# Resources: POST /v1/<kind> creates one object, GET /v1/<kind>/<id> reads it,
# GET /v1/<kind>?client_ref=<marker> finds objects by the marker in their body.
API_PREFIX = "/v1"
KINDS: tuple[str, ...] = ("videos", "listings", "products", "orders")
# Object ids are "<prefix>_<16 hex>".
KIND_PREFIX: dict[str, str] = {
    "videos": "vid",
    "listings": "lst",
    "products": "prd",
    "orders": "ord",
}
# Fields each kind requires in a create body (else 422, no effect).
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "videos": ("title",),
    "listings": ("title",),
    "products": ("title",),
    "orders": ("symbol", "qty", "side"),
}

# Honoured only in mode "idempotent": same key returns the same object.
IDEMPOTENCY_HEADER = "Idempotency-Key"
# Set to "true" on a response that replays an earlier create.
REPLAYED_HEADER = "Idempotent-Replayed"
# The client's marker inside a create body (like Alpaca's client_order_id),
# and the query parameter that looks objects up by it.
MARKER_FIELD = "client_ref"
LOOKUP_BY_MARKER = "client_ref"
LOOKUP_BY_KEY = "idempotency_key"
# Optional per-request fault: a JSON fault object (see FaultKind) in this header
# applies to that one request and leaves the queued faults untouched.
FAULT_HEADER = "X-Sandbox-Fault"

CONTROL_PREFIX = "/_control"
# The one line the server prints on stdout once it accepts connections.
READY_PREFIX = "sandbox listening on "
MAX_BODY_BYTES = 1024 * 1024
STORE_NAME = "sandbox.db"


class Mode(enum.StrEnum):
    """What the sandbox supports, server-wide."""

    IDEMPOTENT = "idempotent"  # honours Idempotency-Key, and lookup by marker works
    LOOKUP_ONLY = "lookup_only"  # ignores Idempotency-Key; lookup by marker works
    NONE = "none"  # neither: every POST is a new effect, lookup answers 501


class FaultKind(enum.StrEnum):
    """Faults the sandbox injects into the next matching request."""

    DELAY = "delay"  # sleep `seconds` (before the commit unless after_commit), then normal
    LOST_RESPONSE = "lost_response"  # commit, then drop the connection with no response
    HTTP_5XX = "http_5xx"  # 503 (or `status`) and NO effect
    HTTP_5XX_AFTER_COMMIT = "http_5xx_after_commit"  # commit, then 500 (or `status`)
    HTTP_429 = "http_429"  # 429 with Retry-After and NO effect
    HTTP_4XX = "http_4xx"  # 400 (or `status`) and NO effect
    # normal, plus "access_token": <secret> in the response
    LEAK_SECRET = "leak_secret"  # noqa: S105 - a fault name, not a secret
    CRASH_AFTER_COMMIT = "crash_after_commit"  # commit, then the server process exits


# Faults that only make sense on a create (they are about the commit).
CREATE_ONLY_FAULTS = frozenset(
    {FaultKind.HTTP_5XX_AFTER_COMMIT, FaultKind.CRASH_AFTER_COMMIT},
)


def default_store_path(workspace: Path) -> Path:
    """``<workspace>/.autonomous_runs/_autopack/sandbox.db``."""
    return state_dir(workspace) / STORE_NAME
