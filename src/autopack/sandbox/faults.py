"""Fault injection: a thread-safe queue of faults the next matching requests suffer.

A fault is a JSON object::

    {"kind": "lost_response",      # a FaultKind value (required)
     "on": "create",               # "create" (default) or "lookup"
     "match": "KEY",               # only a request whose Idempotency-Key or client_ref
                                   # (lookup: query value) equals this; default: any
     "times": 1,                   # how many matching requests it applies to
     "seconds": 1.0,               # delay: how long to sleep
     "after_commit": false,        # delay: sleep after the commit instead of before
     "status": 503,                # http_5xx / http_5xx_after_commit / http_4xx
     "retry_after": "1",           # http_429: the Retry-After header value
     "reset": false,               # lost_response: TCP reset instead of a clean close
     "secret": "..."}              # leak_secret: the value put in "access_token"
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from autopack.domain.sandbox_protocol import CREATE_ONLY_FAULTS, FaultKind

OPS = ("create", "lookup")
# Shaped like a Google OAuth access token so redaction rules have something to catch;
# tests that must know the exact value pass their own "secret".
DEFAULT_LEAKED_SECRET = "ya29.sandbox-leaked-access-token-not-a-real-secret"  # noqa: S105
MAX_DELAY_SECONDS = 600.0
_DEFAULT_STATUS = {
    FaultKind.HTTP_5XX: 503,
    FaultKind.HTTP_5XX_AFTER_COMMIT: 500,
    FaultKind.HTTP_4XX: 400,
}
_FIELDS = frozenset(
    {
        "kind",
        "on",
        "match",
        "times",
        "seconds",
        "after_commit",
        "status",
        "retry_after",
        "reset",
        "secret",
    }
)


class FaultSpecError(ValueError):
    """A fault object the sandbox refuses (400 on the control API)."""


@dataclass(frozen=True, slots=True)
class Fault:
    kind: FaultKind
    on: str = "create"
    match: str | None = None
    times: int = 1
    seconds: float = 1.0
    after_commit: bool = False
    status: int | None = None
    retry_after: str = "1"
    reset: bool = False
    secret: str = DEFAULT_LEAKED_SECRET

    @property
    def effective_status(self) -> int:
        if self.status is not None:
            return self.status
        return _DEFAULT_STATUS.get(self.kind, 500)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "on": self.on,
            "match": self.match,
            "times": self.times,
            "seconds": self.seconds,
            "after_commit": self.after_commit,
            "status": self.effective_status,
            "retry_after": self.retry_after,
            "reset": self.reset,
            "secret": self.secret,
        }


def _bool(spec: Mapping[str, Any], name: str) -> bool:
    value = spec.get(name, False)
    if not isinstance(value, bool):
        raise FaultSpecError(f"fault field {name!r} must be true or false")
    return value


def parse_fault(spec: Any) -> Fault:
    """Validate one fault object."""
    if not isinstance(spec, Mapping):
        raise FaultSpecError("a fault must be a JSON object")
    unknown = sorted(set(spec) - _FIELDS)
    if unknown:
        raise FaultSpecError(f"unknown fault field(s): {', '.join(unknown)}")
    try:
        kind = FaultKind(str(spec.get("kind")))
    except ValueError:
        allowed = ", ".join(k.value for k in FaultKind)
        raise FaultSpecError(f"fault kind must be one of: {allowed}") from None
    on = spec.get("on", "create")
    if on not in OPS:
        raise FaultSpecError("fault field 'on' must be 'create' or 'lookup'")
    if on == "lookup" and kind in CREATE_ONLY_FAULTS:
        raise FaultSpecError(f"fault {kind.value} only applies to creates")
    match = spec.get("match")
    if match is not None and not isinstance(match, str):
        raise FaultSpecError("fault field 'match' must be a string")
    times = spec.get("times", 1)
    if not isinstance(times, int) or isinstance(times, bool) or not 1 <= times <= 10_000:
        raise FaultSpecError("fault field 'times' must be an integer from 1 to 10000")
    try:
        seconds = float(spec.get("seconds", 1.0))
    except (TypeError, ValueError):
        raise FaultSpecError("fault field 'seconds' must be a number") from None
    if not 0 <= seconds <= MAX_DELAY_SECONDS:
        raise FaultSpecError(f"fault field 'seconds' must be within 0..{MAX_DELAY_SECONDS:g}")
    status = spec.get("status")
    if status is not None:
        if not isinstance(status, int) or isinstance(status, bool):
            raise FaultSpecError("fault field 'status' must be an integer")
        low = 400 if kind is FaultKind.HTTP_4XX else 500
        if not low <= status <= low + 99:
            raise FaultSpecError(f"fault {kind.value} needs a status in {low}..{low + 99}")
    retry_after = spec.get("retry_after", "1")
    if isinstance(retry_after, bool) or not isinstance(retry_after, str | int):
        raise FaultSpecError("fault field 'retry_after' must be a string or an integer")
    secret = spec.get("secret", DEFAULT_LEAKED_SECRET)
    if not isinstance(secret, str) or not secret:
        raise FaultSpecError("fault field 'secret' must be a non-empty string")
    return Fault(
        kind=kind,
        on=on,
        match=match,
        times=times,
        seconds=seconds,
        after_commit=_bool(spec, "after_commit"),
        status=status,
        retry_after=str(retry_after),
        reset=_bool(spec, "reset"),
        secret=secret,
    )


def parse_faults(value: Any) -> list[Fault]:
    """A fault object, a list of them, or ``{"faults": [...]}``."""
    if isinstance(value, Mapping) and "faults" in value:
        value = value["faults"]
    if isinstance(value, Mapping):
        return [parse_fault(value)]
    if not isinstance(value, list):
        raise FaultSpecError('send a fault object, a list of them, or {"faults": [...]}')
    return [parse_fault(item) for item in value]


class FaultQueue:
    """Faults in arrival order; each request takes the first one that matches it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[Fault] = []

    def push(self, faults: Iterable[Fault]) -> None:
        with self._lock:
            self._pending.extend(faults)

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()

    def pending(self) -> list[Fault]:
        with self._lock:
            return list(self._pending)

    def take(self, op: str, values: Iterable[str | None]) -> Fault | None:
        """Consume one application of the first fault for ``op`` matching ``values``."""
        present = {v for v in values if v is not None}
        with self._lock:
            for index, fault in enumerate(self._pending):
                if fault.on != op or (fault.match is not None and fault.match not in present):
                    continue
                if fault.times > 1:
                    self._pending[index] = replace(fault, times=fault.times - 1)
                else:
                    del self._pending[index]
                return replace(fault, times=1)
        return None
