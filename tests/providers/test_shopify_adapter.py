"""The Shopify adapter against the Shopify fake over real HTTP on 127.0.0.1:
success, resend as upsert, lookup, every fault and its classification, the
THROTTLED wait, the @idempotent resend, and the compare-and-set guard when a
resend is not deduplicated. The access token comes from a fixed accessor (the
adapter's credential seam; the end-to-end test uses the real store)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from autopack.domain.credentials import CredentialNeedsReauthError, RefreshTransientError
from autopack.domain.providers import (
    InMemoryProgress,
    Intent,
    LookupStatus,
    Outcome,
    RenderedRequest,
)
from autopack.providers.shopify.adapter import TOKEN_HEADER, ShopifyAdapter
from fakes_support import FakesProcess, running_fakes

TOKEN = "shpat_" + "0123456789abcdef" * 2
ITEM = "gid://shopify/InventoryItem/501"
LOCATION = "gid://shopify/Location/9"


class Token:
    """The credential seam: a fixed token, or a refusal like the store's."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.calls = 0

    def access_token(self, account: str) -> str:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return TOKEN

    def api_key(self, account: str) -> Any:
        raise AssertionError("Shopify uses OAuth tokens")


@pytest.fixture(scope="module")
def shared_fakes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakesProcess]:
    with running_fakes(tmp_path_factory.mktemp("shopify-adapter"), "shopify") as fakes:
        yield fakes


@pytest.fixture
def fakes(shared_fakes: FakesProcess) -> FakesProcess:
    if not shared_fakes.alive:
        shared_fakes.restart()
    shared_fakes.reset()
    return shared_fakes


def make_adapter(
    fakes: FakesProcess, *, token: Token | None = None, timeout: float = 5.0
) -> ShopifyAdapter:
    return ShopifyAdapter(
        fakes.url + "/admin/api/{version}/graphql.json",
        "2026-04",
        token or Token(),
        timeout=timeout,
    )


@pytest.fixture
def adapter(fakes: FakesProcess) -> Iterator[ShopifyAdapter]:
    with make_adapter(fakes) as built:
        yield built


def body_of(rendered: RenderedRequest) -> Any:
    return rendered.body


def product(key: str = "p-1", **extra: Any) -> Intent:
    payload = {"title": "Linen shirt", "status": "DRAFT", **extra}
    return Intent("shopify", "product.upsert", "my-shop", key, payload)


def adjustment(key: str = "a-1", delta: int = 5, change_from: int | None = 0) -> Intent:
    change = {
        "inventoryItemId": ITEM,
        "locationId": LOCATION,
        "delta": delta,
        "changeFromQuantity": change_from,
    }
    payload = {"reason": "received", "name": "available", "changes": [change]}
    return Intent("shopify", "inventory.adjust", "my-shop", key, payload)


def available(fakes: FakesProcess) -> int:
    levels = fakes.control("GET", "/shopify/levels")["levels"]
    found = [lv for lv in levels if lv["item"] == ITEM and lv["location"] == LOCATION]
    return int(found[0]["quantities"].get("available", 0)) if found else 0


def send(adapter: ShopifyAdapter, intent: Intent, progress: InMemoryProgress | None = None) -> Any:
    return adapter.dispatch(intent, adapter.render(intent), progress or InMemoryProgress())


def products(fakes: FakesProcess) -> list[dict[str, Any]]:
    return [e for e in fakes.effects("shopify") if e["kind"] == "product"]


def test_product_upsert_creates_once_and_lookup_finds_it(
    adapter: ShopifyAdapter, fakes: FakesProcess
) -> None:
    intent = product()
    assert adapter.lookup(intent, {}).status is LookupStatus.NOT_FOUND
    first = send(adapter, intent)
    assert first.outcome is Outcome.SUCCEEDED, first
    assert first.provider_object_id.startswith("gid://shopify/Product/")
    again = send(adapter, intent)  # a resend is an upsert of the same product
    assert (again.outcome, again.provider_object_id) == (
        Outcome.SUCCEEDED,
        first.provider_object_id,
    )
    stored = products(fakes)
    assert len(stored) == 1
    assert stored[0]["writes"] == 2
    assert (
        stored[0]["handle"] == body_of(adapter.render(intent))["variables"]["identifier"]["handle"]
    )
    found = adapter.lookup(intent, {})
    assert (found.status, found.provider_object_id) == (
        LookupStatus.FOUND,
        first.provider_object_id,
    )
    # A custom id identifies the product just as well.
    custom = {"namespace": "erp", "key": "family", "value": "LS-9"}
    by_custom = product("p-2", customId=custom)
    made = send(adapter, by_custom)
    assert made.outcome is Outcome.SUCCEEDED
    assert adapter.lookup(by_custom, {}).provider_object_id == made.provider_object_id
    assert len(products(fakes)) == 2


def test_user_errors_are_permanent_and_keep_their_codes(
    adapter: ShopifyAdapter, fakes: FakesProcess
) -> None:
    assert send(adapter, product("p-1", handle="linen")).outcome is Outcome.SUCCEEDED
    custom = {"namespace": "erp", "key": "family", "value": "X"}
    taken = send(adapter, product("p-2", handle="linen", customId=custom))
    assert taken.outcome is Outcome.PERMANENT
    assert taken.summary["user_error_codes"] == ["TAKEN"]
    assert "TAKEN input.handle" in taken.error
    orphan = Intent(
        "shopify",
        "metafields.set",
        "my-shop",
        "m-1",
        {
            "metafields": [
                {
                    "ownerId": "gid://shopify/Product/424242",
                    "namespace": "custom",
                    "key": "care",
                    "type": "single_line_text_field",
                    "value": "cold",
                }
            ]
        },
    )
    refused = send(adapter, orphan)
    assert refused.outcome is Outcome.PERMANENT
    assert refused.summary["user_error_codes"] == ["INVALID_VALUE"]
    assert len(products(fakes)) == 1


def test_throttled_is_no_effect_with_the_wait_from_the_cost(
    adapter: ShopifyAdapter, fakes: FakesProcess
) -> None:
    fakes.set_faults(
        {"provider": "shopify", "kind": "throttled", "available": 3, "restore_rate": 50.0}
    )
    throttled = send(adapter, product())
    assert throttled.outcome is Outcome.NO_EFFECT
    # (10 requested - 3 available) / 50 per second = 0.14 s, rounded up to 0.2.
    assert throttled.retry_after_seconds == pytest.approx(0.2)
    assert throttled.summary["error_codes"] == ["THROTTLED"]
    assert products(fakes) == []
    fakes.set_faults(
        {"provider": "shopify", "kind": "throttled", "available": 0, "restore_rate": 2.0}
    )
    assert send(adapter, product()).retry_after_seconds == pytest.approx(5.0)
    assert send(adapter, product()).outcome is Outcome.SUCCEEDED


@pytest.mark.parametrize(
    ("fault", "outcome", "retry_after"),
    [
        (
            {"kind": "status", "status": 503, "headers": {"Retry-After": "4"}},
            Outcome.MAYBE_EFFECT,
            4.0,
        ),
        (
            {"kind": "status", "status": 429, "headers": {"Retry-After": "2"}},
            Outcome.NO_EFFECT,
            2.0,
        ),
        (
            {"kind": "status", "status": 401, "body": {"errors": "[API] Invalid API key"}},
            Outcome.PERMANENT,
            None,
        ),
        (
            {"kind": "status", "status": 402, "body": {"errors": "Unavailable Shop"}},
            Outcome.PERMANENT,
            None,
        ),
        ({"kind": "status_after_commit", "status": 500}, Outcome.MAYBE_EFFECT, None),
        ({"kind": "lost_response"}, Outcome.MAYBE_EFFECT, None),
    ],
)
def test_http_faults_are_classified(
    adapter: ShopifyAdapter,
    fakes: FakesProcess,
    fault: dict[str, Any],
    outcome: Outcome,
    retry_after: float | None,
) -> None:
    fakes.set_faults({"provider": "shopify", **fault})
    result = send(adapter, product())
    assert result.outcome is outcome, result
    assert result.retry_after_seconds == retry_after
    if fault["kind"] == "status" and fault["status"] in (401, 402):
        assert fault["body"]["errors"] in result.error
    committed = fault["kind"] in ("status_after_commit", "lost_response")
    assert len(products(fakes)) == (1 if committed else 0)
    if committed:
        # Reconciliation finds the product the lost answer created.
        found = adapter.lookup(product(), {})
        assert (found.status, found.provider_object_id) == (
            LookupStatus.FOUND,
            products(fakes)[0]["id"],
        )


def test_a_timeout_after_sending_is_maybe_and_a_refused_connection_no_effect(
    fakes: FakesProcess,
) -> None:
    fakes.set_faults({"provider": "shopify", "kind": "delay", "seconds": 1.5})
    with make_adapter(fakes, timeout=0.5) as slow:
        timed_out = send(slow, product())
    assert timed_out.outcome is Outcome.MAYBE_EFFECT
    assert "ReadTimeout" in timed_out.error
    fakes.wait_idle()
    assert len(products(fakes)) == 1
    fakes.kill()
    with make_adapter(fakes) as adapter:
        refused = send(adapter, product("p-2"))
        assert refused.outcome is Outcome.NO_EFFECT
        assert adapter.lookup(product("p-2"), {}).status is LookupStatus.UNAVAILABLE
    fakes.restart()


def test_inventory_resend_is_deduplicated_by_the_idempotent_key(
    adapter: ShopifyAdapter, fakes: FakesProcess
) -> None:
    intent = adjustment()
    progress = InMemoryProgress()
    assert adapter.lookup(intent, progress.state).status is LookupStatus.NOT_FOUND
    fakes.set_faults({"provider": "shopify", "kind": "lost_response"})
    lost = send(adapter, intent, progress)
    assert lost.outcome is Outcome.MAYBE_EFFECT
    assert progress.state["attempts"] == 1
    assert progress.state["idempotency_key"] == adapter.render(intent).provider_idempotency_key
    assert available(fakes) == 5
    # Nothing to query: lookup says resend (safe: the same @idempotent key).
    assert adapter.lookup(intent, progress.state).status is LookupStatus.IN_PROGRESS
    resent = send(adapter, intent, progress)
    assert resent.outcome is Outcome.SUCCEEDED, resent
    assert resent.provider_object_id.startswith("gid://shopify/InventoryAdjustmentGroup/")
    assert available(fakes) == 5  # adjusted once
    groups = [e for e in fakes.effects("shopify") if e["kind"] == "adjustment_group"]
    assert [g["id"] for g in groups] == [resent.provider_object_id]


def test_a_resend_shopify_does_not_deduplicate_is_stopped_by_compare_and_set(
    adapter: ShopifyAdapter, fakes: FakesProcess
) -> None:
    intent = adjustment(change_from=0)
    progress = InMemoryProgress()
    fakes.set_faults({"provider": "shopify", "kind": "lost_response"})
    assert send(adapter, intent, progress).outcome is Outcome.MAYBE_EFFECT
    fakes.set_faults({"provider": "shopify", "kind": "ignore_idempotency"})
    stale = send(adapter, intent, progress)
    assert stale.outcome is Outcome.MAYBE_EFFECT  # maybe applied by the first attempt
    assert stale.summary["user_error_codes"] == ["CHANGE_FROM_QUANTITY_STALE"]
    assert available(fakes) == 5  # never twice
    decided = adapter.lookup(intent, progress.state)
    assert decided.status is LookupStatus.UNSUPPORTED  # a person decides
    assert "CHANGE_FROM_QUANTITY_STALE" in str(decided.error)
    # A first attempt that is stale was never applied: permanent.
    fresh = send(adapter, adjustment("a-2", change_from=0), InMemoryProgress())
    assert fresh.outcome is Outcome.PERMANENT
    assert available(fakes) == 5


def test_metafields_set_succeeds_and_a_resend_converges(
    adapter: ShopifyAdapter, fakes: FakesProcess
) -> None:
    made = send(adapter, product())
    entry = {
        "ownerId": made.provider_object_id,
        "namespace": "custom",
        "key": "care",
        "type": "single_line_text_field",
        "value": "cold",
    }
    intent = Intent("shopify", "metafields.set", "my-shop", "m-1", {"metafields": [entry]})
    first = send(adapter, intent)
    assert first.outcome is Outcome.SUCCEEDED
    assert first.provider_object_id.startswith("gid://shopify/Metafield/")
    assert adapter.lookup(intent, {}).status is LookupStatus.IN_PROGRESS
    assert send(adapter, intent).provider_object_id == first.provider_object_id
    stored = [e for e in fakes.effects("shopify") if e["kind"] == "metafield"]
    assert [(m["value"], m["writes"]) for m in stored] == [("cold", 2)]


def test_the_token_is_sent_only_at_dispatch_and_refusals_send_nothing(
    fakes: FakesProcess,
) -> None:
    token = Token()
    with make_adapter(fakes, token=token) as adapter:
        rendered = adapter.render(product())
        assert token.calls == 0
        assert rendered.headers[TOKEN_HEADER] == "<access token>"
        assert send(adapter, product()).outcome is Outcome.SUCCEEDED
        assert token.calls == 1
    for error, outcome in (
        (RefreshTransientError("token endpoint down"), Outcome.NO_EFFECT),
        (CredentialNeedsReauthError("reconnect the shop"), Outcome.PERMANENT),
    ):
        with make_adapter(fakes, token=Token(error)) as adapter:
            result = send(adapter, product("p-9"))
            assert result.outcome is outcome
            assert "no access token" in str(result.error)
            assert adapter.lookup(product("p-9"), {}).status is LookupStatus.UNAVAILABLE
    assert len(products(fakes)) == 1


def test_a_request_rendered_for_another_intent_is_not_sent(
    adapter: ShopifyAdapter, fakes: FakesProcess
) -> None:
    other = adapter.render(product("p-2"))
    result = adapter.dispatch(product("p-1"), other, InMemoryProgress())
    assert result.outcome is Outcome.PERMANENT
    forged = RenderedRequest(
        other.method, other.url, other.headers, other.body, provider_idempotency_key="x"
    )
    assert adapter.dispatch(product("p-2"), forged, InMemoryProgress()).outcome is (
        Outcome.PERMANENT
    )
    assert products(fakes) == []


def test_the_fake_rejects_a_missing_token_like_shopify(fakes: FakesProcess) -> None:
    with make_adapter(fakes) as adapter:
        rendered = adapter.render(product())
    with httpx.Client(trust_env=False, timeout=5.0) as client:
        answer = client.post(rendered.url, json=rendered.body)  # the masked header left out
    assert answer.status_code == 401
