"""What a YouTube error answer proves, keeping Google's own ``errors[].reason``.

Google's error body: ``{"error": {"code": 403, "message": "...", "errors":
[{"message": "...", "domain": "youtube.quota", "reason": "quotaExceeded"}]}}``.
On top of the shared HTTP rules (``autopack.providers._http``):

    403 quotaExceeded, dailyLimitExceeded    NO_EFFECT: the request was refused
                                             before processing (it proves no
                                             effect); retry after the quota's reset,
                                             midnight Pacific time
    400 uploadLimitExceeded                  NO_EFFECT: the channel's 24-hour upload
                                             cap; retry after 24 hours
    403 rateLimitExceeded,
        userRateLimitExceeded, 429           NO_EFFECT, after Retry-After (or 60 s)
    401 (authError, expired token)           NO_EFFECT: refused before processing; the
                                             next attempt asks for a fresh token
    other 4xx (forbidden, invalidTitle...)   PERMANENT
    5xx                                      MAYBE_EFFECT (shared rule)

The reasons and their meaning are Google's (developers.google.com/youtube/v3/
docs/errors); a new one is a one-line edit here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

import httpx

from autopack.domain.providers import DispatchResult, Outcome
from autopack.providers._http import classify_response, response_json

QUOTA_REASONS: Final = frozenset({"quotaExceeded", "dailyLimitExceeded"})
UPLOAD_CAP_REASONS: Final = frozenset({"uploadLimitExceeded"})
RATE_REASONS: Final = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
QUOTA_TIMEZONE: Final = ZoneInfo("America/Los_Angeles")  # quotas reset at midnight PT
UPLOAD_CAP_WINDOW_SECONDS: Final = 24 * 3600.0
DEFAULT_RATE_WAIT_SECONDS: Final = 60.0


def google_reasons(response: httpx.Response) -> list[str]:
    """Every ``errors[].reason`` of a Google error body (empty when there is none)."""
    data = response_json(response)
    error = data.get("error") if isinstance(data, dict) else None
    errors = error.get("errors") if isinstance(error, dict) else None
    if not isinstance(errors, list):
        return []
    return [e["reason"] for e in errors if isinstance(e, dict) and isinstance(e.get("reason"), str)]


def seconds_until_quota_reset(now: datetime) -> float:
    """Seconds from ``now`` (aware) to the next midnight in Pacific time."""
    local = now.astimezone(QUOTA_TIMEZONE)
    midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time())
    reset = midnight.replace(tzinfo=QUOTA_TIMEZONE)
    return max(0.0, (reset - local).total_seconds())


def classify_google(
    response: httpx.Response,
    *,
    clock: Callable[[], datetime],
    object_id: Callable[[Any], str | None],
) -> DispatchResult:
    """The outcome ``response`` proves, with Google's reasons in the summary."""
    result = classify_response(response, object_id)
    reasons = google_reasons(response)
    summary = {**result.summary, "reasons": reasons}
    status = response.status_code
    retry_after = result.retry_after_seconds
    outcome = result.outcome
    if status == 403 and QUOTA_REASONS.intersection(reasons):
        outcome, retry_after = Outcome.NO_EFFECT, seconds_until_quota_reset(clock())
    elif status == 400 and UPLOAD_CAP_REASONS.intersection(reasons):
        outcome, retry_after = Outcome.NO_EFFECT, UPLOAD_CAP_WINDOW_SECONDS
    elif status == 429 or (status == 403 and RATE_REASONS.intersection(reasons)):
        outcome = Outcome.NO_EFFECT
        retry_after = retry_after if retry_after is not None else DEFAULT_RATE_WAIT_SECONDS
    elif status == 401:
        outcome = Outcome.NO_EFFECT
    error = result.error
    if reasons and error is not None:
        error = f"{error} [{', '.join(reasons)}]"
    return dataclasses.replace(
        result, outcome=outcome, summary=summary, error=error, retry_after_seconds=retry_after
    )
