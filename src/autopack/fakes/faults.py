"""Fault injection for the fakes: a queue of one-shot (or ``times``-shot) faults.

A fault is JSON: ``{"provider": P, "kind": K}`` plus optional ``method`` and
``path_contains`` (only matching requests), ``times`` (default 1) and the
kind's own parameters. The host handles four kinds itself:

    status               answer ``status`` (with ``headers``, JSON ``body``) WITHOUT
                         processing the request: no effect
    status_after_commit  process the request (its effect is committed), then answer
                         ``status`` instead of the real answer
    lost_response        process the request, then close the connection unanswered
    delay                wait ``seconds`` (<= 60), then process normally

Every other kind is the fake's own (YouTube's partial range, Shopify's
THROTTLED...) and is handed to its ``handle``. The queue lives in memory: a
restart empties it.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from autopack.fakes.protocol import FakeRequest, Fault

HOST_KINDS = frozenset({"status", "status_after_commit", "lost_response", "delay"})
MAX_DELAY_SECONDS = 60.0
_COMMON = frozenset({"provider", "kind", "method", "path_contains", "times"})


class FaultSpecError(ValueError):
    """A fault that cannot be queued; the message says why."""


@dataclass(slots=True)
class _Queued:
    fault: Fault
    left: int


def parse_fault(raw: Any, providers: frozenset[str]) -> tuple[Fault, int]:
    if not isinstance(raw, Mapping):
        raise FaultSpecError("a fault is a JSON object")
    provider, kind = raw.get("provider"), raw.get("kind")
    if provider not in providers:
        raise FaultSpecError(f"fault provider must be one of {', '.join(sorted(providers))}")
    if not isinstance(kind, str) or not kind:
        raise FaultSpecError("fault kind must be a non-empty string")
    method, contains, times = raw.get("method"), raw.get("path_contains"), raw.get("times", 1)
    if method is not None and method not in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        raise FaultSpecError("fault method must be GET, POST, PUT, PATCH or DELETE")
    if contains is not None and not isinstance(contains, str):
        raise FaultSpecError("fault path_contains must be a string")
    if isinstance(times, bool) or not isinstance(times, int) or not 1 <= times <= 1000:
        raise FaultSpecError("fault times must be an integer within 1..1000")
    params = {k: v for k, v in raw.items() if k not in _COMMON}
    if kind in ("status", "status_after_commit"):
        status = params.get("status")
        if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
            raise FaultSpecError(f"a {kind} fault needs an HTTP status")
        headers = params.get("headers", {})
        if not isinstance(headers, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
        ):
            raise FaultSpecError("fault headers must map strings to strings")
    if kind == "delay":
        seconds = params.get("seconds")
        if not isinstance(seconds, int | float) or not 0 <= seconds <= MAX_DELAY_SECONDS:
            raise FaultSpecError(f"a delay fault needs seconds within 0..{MAX_DELAY_SECONDS}")
    fault = Fault(
        provider=str(provider), kind=kind, method=method, path_contains=contains, params=params
    )
    return fault, times


class FaultQueue:
    """Thread-safe: requests are served on threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: list[_Queued] = []

    def push(self, faults: list[tuple[Fault, int]]) -> None:
        with self._lock:
            self._queue.extend(_Queued(fault, times) for fault, times in faults)

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [
                {
                    "provider": q.fault.provider,
                    "kind": q.fault.kind,
                    "method": q.fault.method,
                    "path_contains": q.fault.path_contains,
                    "times": q.left,
                    **q.fault.params,
                }
                for q in self._queue
            ]

    def take(self, provider: str, request: FakeRequest) -> Fault | None:
        """The first queued fault matching ``request`` (its count goes down), or None."""
        with self._lock:
            for queued in self._queue:
                fault = queued.fault
                if fault.provider != provider:
                    continue
                if fault.method is not None and fault.method != request.method:
                    continue
                if fault.path_contains is not None and fault.path_contains not in request.path:
                    continue
                queued.left -= 1
                if queued.left == 0:
                    self._queue.remove(queued)
                return fault
        return None
