"""What a Shopify Admin GraphQL answer proves about the effect of a mutation.

GraphQL answers HTTP 200 for most outcomes, so the body decides::

    HTTP 200, top-level errors with extensions.code THROTTLED
                                          NO_EFFECT, retry_after from extensions.cost
    HTTP 200, top-level INTERNAL_SERVER_ERROR
                                          MAYBE_EFFECT (the server may have acted)
    HTTP 200, any other top-level errors  PERMANENT (syntax, validation, access)
    HTTP 200, payload.userErrors          PERMANENT, keeping each code/field/message;
                                          except codes listed as retryable
                                          (NO_EFFECT) or in doubt (MAYBE_EFFECT)
    HTTP 200, the object's id             SUCCEEDED
    HTTP 200 without either               MAYBE_EFFECT (reconcile by lookup)
    HTTP 429                              NO_EFFECT (Retry-After)
    other HTTP 4xx (401 bad token, 402 frozen shop, 403, 404, 423 locked)
                                          PERMANENT
    HTTP 5xx, timeouts after sending      MAYBE_EFFECT

The throttle wait: Shopify refills ``restoreRate`` points per second and the
query needs ``requestedQueryCost`` of them while ``currentlyAvailable`` are left,
so the earliest moment it can run is (requested - available) / restoreRate s.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from typing import Any, Final, TypeGuard

import httpx

from autopack.domain.providers import DispatchResult, Outcome
from autopack.providers._http import response_json, response_summary, retry_after_seconds

THROTTLED: Final = "THROTTLED"
INTERNAL_ERROR: Final = "INTERNAL_SERVER_ERROR"
# A throttled answer without a usable cost waits this long; one with a cost
# waits at least the shortest step (never a retry at once).
NO_COST_THROTTLE_WAIT_SECONDS: Final = 1.0
MIN_THROTTLE_WAIT_SECONDS: Final = 0.1


def throttle_wait_seconds(body: Any) -> float | None:
    """Seconds until the bucket holds the requested cost (None: no cost given)."""
    cost = body.get("extensions", {}).get("cost") if isinstance(body, dict) else None
    if not isinstance(cost, Mapping):
        return None
    status = cost.get("throttleStatus")
    requested = cost.get("requestedQueryCost")
    if not isinstance(status, Mapping) or not _number(requested):
        return None
    available = status.get("currentlyAvailable")
    rate = status.get("restoreRate")
    if not _number(available) or not _number(rate) or rate <= 0:
        return None
    missing = float(requested) - float(available)
    # Round up to a tenth of a second: never retry a moment too early.
    return max(MIN_THROTTLE_WAIT_SECONDS, math.ceil(missing / float(rate) * 10) / 10)


def _number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def error_codes(errors: Any) -> list[str]:
    """``extensions.code`` of each top-level GraphQL error ("" when absent)."""
    codes: list[str] = []
    for error in errors if isinstance(errors, list) else []:
        extensions = error.get("extensions") if isinstance(error, dict) else None
        code = extensions.get("code") if isinstance(extensions, dict) else None
        codes.append(code if isinstance(code, str) else "")
    return codes


def errors_text(errors: Any) -> str:
    """Top-level errors in one line: ``CODE: message; ...`` (bounded)."""
    if isinstance(errors, str):  # HTTP-level answers carry {"errors": "text"}
        return errors[:300]
    parts: list[str] = []
    for error in errors if isinstance(errors, list) else []:
        if not isinstance(error, dict):
            continue
        codes = error_codes([error])
        message = error.get("message")
        text = message if isinstance(message, str) else "error"
        parts.append(f"{codes[0]}: {text}" if codes[0] else text)
    return "; ".join(parts)[:500] or "GraphQL errors"


def user_errors_text(user_errors: list[Any]) -> str:
    parts = []
    for error in user_errors:
        if not isinstance(error, dict):
            continue
        field = error.get("field")
        where = ".".join(str(f) for f in field) if isinstance(field, list) else ""
        code = error.get("code") or "USER_ERROR"
        parts.append(f"{code}{' ' + where if where else ''}: {error.get('message', '')}")
    return "; ".join(parts)[:500]


def http_failure(response: httpx.Response) -> DispatchResult:
    """A non-200 answer (see the module docstring)."""
    status = response.status_code
    summary = response_summary(response)
    body = response_json(response)
    detail = errors_text(body.get("errors")) if isinstance(body, dict) else ""
    error = f"HTTP {status}" + (f": {detail}" if detail else "")
    if status == 429:
        return DispatchResult(
            Outcome.NO_EFFECT,
            status_code=status,
            summary=summary,
            error=error,
            retry_after_seconds=retry_after_seconds(response),
        )
    if 400 <= status < 500:
        return DispatchResult(Outcome.PERMANENT, status_code=status, summary=summary, error=error)
    return DispatchResult(
        Outcome.MAYBE_EFFECT,
        status_code=status,
        summary=summary,
        error=error,
        retry_after_seconds=retry_after_seconds(response),
    )


def classify_mutation(
    response: httpx.Response,
    *,
    field: str,
    object_id: Any,
    retryable_codes: Collection[str] = (),
    doubtful_codes: Collection[str] = (),
) -> DispatchResult:
    """The outcome of one mutation answer. ``field`` is the mutation's payload
    field in ``data``; ``object_id(payload) -> str | None`` finds the created or
    updated object's id in that payload."""
    if response.status_code != 200:
        return http_failure(response)
    status = response.status_code
    summary = response_summary(response)
    body = response_json(response)
    if not isinstance(body, dict):
        return DispatchResult(
            Outcome.MAYBE_EFFECT, status_code=status, summary=summary, error="answer is not JSON"
        )
    errors = body.get("errors")
    if errors:
        codes = error_codes(errors)
        summary["error_codes"] = codes
        message = errors_text(errors)
        if THROTTLED in codes:
            # Refused before execution: nothing happened; wait for the bucket.
            return DispatchResult(
                Outcome.NO_EFFECT,
                status_code=status,
                summary=summary,
                error=message,
                retry_after_seconds=throttle_wait_seconds(body) or NO_COST_THROTTLE_WAIT_SECONDS,
            )
        outcome = Outcome.MAYBE_EFFECT if INTERNAL_ERROR in codes else Outcome.PERMANENT
        return DispatchResult(outcome, status_code=status, summary=summary, error=message)
    data = body.get("data")
    payload = data.get(field) if isinstance(data, dict) else None
    if not isinstance(payload, dict):
        return DispatchResult(
            Outcome.MAYBE_EFFECT,
            status_code=status,
            summary=summary,
            error=f"answer without data.{field}",
        )
    user_errors = payload.get("userErrors")
    if isinstance(user_errors, list) and user_errors:
        codes = [str(e.get("code")) for e in user_errors if isinstance(e, dict)]
        summary["user_error_codes"] = codes
        message = f"userErrors: {user_errors_text(user_errors)}"
        if codes and all(c in retryable_codes for c in codes):
            outcome = Outcome.NO_EFFECT
        elif any(c in doubtful_codes for c in codes):
            outcome = Outcome.MAYBE_EFFECT
        else:
            outcome = Outcome.PERMANENT
        return DispatchResult(outcome, status_code=status, summary=summary, error=message)
    found = object_id(payload)
    if not isinstance(found, str) or not found:
        return DispatchResult(
            Outcome.MAYBE_EFFECT,
            status_code=status,
            summary=summary,
            error=f"data.{field} without an object id",
        )
    return DispatchResult(
        Outcome.SUCCEEDED, provider_object_id=found, status_code=status, summary=summary
    )
