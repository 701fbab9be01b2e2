"""Every row of the Shopify answer classification (providers/shopify/classify.py):
what an Admin GraphQL answer proves about a mutation's effect."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from autopack.domain.providers import Outcome
from autopack.providers.shopify.classify import classify_mutation, throttle_wait_seconds

REQUEST = httpx.Request("POST", "https://my-shop.myshopify.com/admin/api/2026-01/graphql.json")
COST = {
    "requestedQueryCost": 10,
    "actualQueryCost": 10,
    "throttleStatus": {
        "maximumAvailable": 2000.0,
        "currentlyAvailable": 1990,
        "restoreRate": 100.0,
    },
}


def answer(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    if isinstance(body, str):
        return httpx.Response(status, text=body, headers=headers, request=REQUEST)
    return httpx.Response(status, json=body, headers=headers, request=REQUEST)


def group(payload: Any) -> dict[str, Any]:
    return {"data": {"inventoryAdjustQuantities": payload}, "extensions": {"cost": COST}}


def user_errors(*codes: str) -> dict[str, Any]:
    return group(
        {
            "inventoryAdjustmentGroup": None,
            "userErrors": [{"code": c, "field": ["input"], "message": c.lower()} for c in codes],
        }
    )


def top_level(code: str, message: str = "x") -> dict[str, Any]:
    return {
        "errors": [{"message": message, "extensions": {"code": code}}],
        "extensions": {"cost": COST},
    }


THROTTLED_NO_COST = {"message": "Throttled", "extensions": {"code": "THROTTLED"}}
SUCCESS = group(
    {
        "inventoryAdjustmentGroup": {"id": "gid://shopify/InventoryAdjustmentGroup/1"},
        "userErrors": [],
    }
)


@pytest.mark.parametrize(
    ("status", "body", "headers", "outcome", "retry_after"),
    [
        (200, SUCCESS, None, Outcome.SUCCEEDED, None),
        (200, user_errors("INVALID_REASON"), None, Outcome.PERMANENT, None),
        (200, user_errors("ADJUST_QUANTITIES_FAILED"), None, Outcome.NO_EFFECT, None),
        (200, user_errors("SERVICE_UNAVAILABLE", "INVALID_REASON"), None, Outcome.PERMANENT, None),
        (200, user_errors("IDEMPOTENCY_CONCURRENT_REQUEST"), None, Outcome.MAYBE_EFFECT, None),
        (200, top_level("THROTTLED"), None, Outcome.NO_EFFECT, 0.1),
        (200, {"errors": [THROTTLED_NO_COST]}, None, Outcome.NO_EFFECT, 1.0),
        (200, top_level("INTERNAL_SERVER_ERROR"), None, Outcome.MAYBE_EFFECT, None),
        (200, top_level("ACCESS_DENIED"), None, Outcome.PERMANENT, None),
        (200, {"errors": [{"message": "Parse error on \"}\""}]}, None, Outcome.PERMANENT, None),
        (200, group({"inventoryAdjustmentGroup": None, "userErrors": []}), None,
         Outcome.MAYBE_EFFECT, None),
        (200, {"data": {}}, None, Outcome.MAYBE_EFFECT, None),
        (200, "<html>gateway</html>", None, Outcome.MAYBE_EFFECT, None),
        (429, {"errors": "Exceeded 2 calls per second"}, {"Retry-After": "2.0"},
         Outcome.NO_EFFECT, 2.0),
        (401, {"errors": "[API] Invalid API key or access token"}, None, Outcome.PERMANENT, None),
        (402, {"errors": "Unavailable Shop"}, None, Outcome.PERMANENT, None),
        (423, {"errors": "Locked"}, None, Outcome.PERMANENT, None),
        (502, "bad gateway", {"Retry-After": "3"}, Outcome.MAYBE_EFFECT, 3.0),
    ],
)  # fmt: skip
def test_each_answer_is_classified(
    status: int,
    body: Any,
    headers: dict[str, str] | None,
    outcome: Outcome,
    retry_after: float | None,
) -> None:
    result = classify_mutation(
        answer(status, body, headers),
        field="inventoryAdjustQuantities",
        object_id=lambda p: (p.get("inventoryAdjustmentGroup") or {}).get("id"),
        retryable_codes=("ADJUST_QUANTITIES_FAILED", "SERVICE_UNAVAILABLE"),
        doubtful_codes=("IDEMPOTENCY_CONCURRENT_REQUEST",),
    )
    assert result.outcome is outcome, result
    assert result.retry_after_seconds == retry_after
    assert result.status_code == status
    if outcome is Outcome.SUCCEEDED:
        assert result.provider_object_id == "gid://shopify/InventoryAdjustmentGroup/1"
        assert result.error is None
    else:
        assert result.provider_object_id is None
        assert result.error
    if isinstance(body, dict) and "userErrors" in str(body) and outcome is not Outcome.SUCCEEDED:
        codes = result.summary.get("user_error_codes")
        if codes:  # the provider's own codes are kept, and named in the error
            assert all(code in str(result.error) for code in codes)


@pytest.mark.parametrize(
    ("requested", "available", "rate", "wait"),
    [
        (10, 3, 50.0, 0.2),  # 0.14 s, rounded up to a tenth
        (110, 10, 50.0, 2.0),
        (1000, 0, 100.0, 10.0),
        (10, 50, 100.0, 0.1),  # enough points already: the shortest step, never 0
    ],
)
def test_the_throttle_wait_is_the_missing_points_over_the_restore_rate(
    requested: int, available: float, rate: float, wait: float
) -> None:
    cost = {
        "requestedQueryCost": requested,
        "actualQueryCost": None,
        "throttleStatus": {
            "maximumAvailable": 1000.0, "currentlyAvailable": available, "restoreRate": rate
        },
    }  # fmt: skip
    assert throttle_wait_seconds({"extensions": {"cost": cost}}) == pytest.approx(wait)


@pytest.mark.parametrize(
    "cost",
    [
        None,
        {
            "requestedQueryCost": "10",
            "throttleStatus": {"currentlyAvailable": 0, "restoreRate": 50},
        },
        {"requestedQueryCost": 10, "throttleStatus": {"currentlyAvailable": 0, "restoreRate": 0}},
        {
            "requestedQueryCost": 10,
            "throttleStatus": {"currentlyAvailable": True, "restoreRate": 5},
        },
        {"requestedQueryCost": 10},
    ],
)
def test_an_unusable_cost_gives_no_wait(cost: Any) -> None:
    assert throttle_wait_seconds({"extensions": {"cost": cost}}) is None
