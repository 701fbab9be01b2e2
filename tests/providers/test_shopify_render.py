"""The Shopify adapter's render: the exact GraphQL request a person approves.

Deterministic (a pinned hash: byte-identical across runs and machines), no
secret (the credential store is never asked), every payload refusal names its
field, and no payload makes render fail with anything but the payload error.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autopack.domain.canonical import canonical_json
from autopack.domain.errors import ConfigurationError, InvalidInputError
from autopack.domain.packets import PacketError
from autopack.domain.providers import Intent, RenderedRequest
from autopack.providers._payload import ProviderPayloadError
from autopack.providers.shopify import operations as ops
from autopack.providers.shopify.adapter import MASKED_TOKEN, TOKEN_HEADER, ShopifyAdapter
from autopack.providers.shopify.packet import PACKET_PROFILE
from autopack.providers.shopify.payloads import derived_handle, idempotent_key
from autopack.services.packet_dispatch import PacketAdapter
from autopack.settings import DEFAULT_SHOPIFY_API_URL, DEFAULT_SHOPIFY_API_VERSION

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "shopify"


class NoCredentials:
    """Render must never ask for a secret: any call fails the test."""

    def access_token(self, account: str) -> str:
        raise AssertionError("render asked for an access token")

    def api_key(self, account: str) -> Any:
        raise AssertionError("render asked for an API key")


def adapter(version: str = DEFAULT_SHOPIFY_API_VERSION) -> ShopifyAdapter:
    return ShopifyAdapter(DEFAULT_SHOPIFY_API_URL, version, NoCredentials())


PRODUCT: dict[str, Any] = {
    "title": "Linen shirt",
    "descriptionHtml": "<p>Washed linen.</p>",
    "vendor": "Autopack Outfitters",
    "productType": "Shirts",
    "tags": ["linen", "summer"],
    "status": "DRAFT",
    "productOptions": [{"name": "Size", "values": [{"name": "S"}, {"name": "M"}]}],
    "variants": [
        {"optionValues": [{"optionName": "Size", "name": "S"}], "price": "49.00", "sku": "LS-S"},
        {
            "optionValues": [{"optionName": "Size", "name": "M"}],
            "price": "49.00",
            "compareAtPrice": "59.90",
        },
    ],
}
INVENTORY: dict[str, Any] = {
    "reason": "correction",
    "name": "available",
    "referenceDocumentUri": "logistics://warehouse/count/2026-12-07",
    "changes": [
        {
            "inventoryItemId": "gid://shopify/InventoryItem/30322695",
            "locationId": "gid://shopify/Location/124656943",
            "delta": -4,
            "changeFromQuantity": 10,
        }
    ],
}
METAFIELDS: dict[str, Any] = {
    "metafields": [
        {
            "ownerId": "gid://shopify/Product/20995642",
            "namespace": "custom",
            "key": "care_guide",
            "type": "multi_line_text_field",
            "value": "Wash cold.\nHang dry.",
        }
    ]
}
PAYLOADS = {"product.upsert": PRODUCT, "inventory.adjust": INVENTORY, "metafields.set": METAFIELDS}

# sha256 of the canonical render of each payload above for shop "my-shop" and
# key "k-1": any change to the bytes a person approves changes these.
PINNED = {
    "product.upsert": "f54b978fe329f8282e058b6c83c0a08f3f70a1b4555f480b2f9ff5f7df9ab0fe",
    "inventory.adjust": "ca598952d0ef9334264d6445290a0f022ddba6cf91f860c4c27e8404dd0e96d8",
    "metafields.set": "8ab1d64c9d956956bcf071fb83041a94a24cada12496be623367d9014c5d33f7",
}


def body_of(rendered: RenderedRequest) -> Any:
    """The rendered JSON body, for reading in assertions."""
    return rendered.body


def intent(action: str, payload: Any, *, key: str = "k-1", account: str = "my-shop") -> Intent:
    return Intent("shopify", action, account, key, payload)


@pytest.mark.parametrize("action", sorted(PAYLOADS))
def test_render_is_pinned_and_identical_across_adapters(action: str) -> None:
    first = adapter().render(intent(action, PAYLOADS[action]))
    second = adapter().render(intent(action, copy.deepcopy(PAYLOADS[action])))
    assert canonical_json(first.to_dict()) == canonical_json(second.to_dict())
    assert first.request_hash == PINNED[action]


@pytest.mark.parametrize("action", sorted(PAYLOADS))
def test_render_shows_the_exact_post_without_a_secret(action: str) -> None:
    rendered = adapter().render(intent(action, PAYLOADS[action]))
    assert rendered.method == "POST"
    assert rendered.url == "https://my-shop.myshopify.com/admin/api/2026-01/graphql.json"
    assert rendered.headers == {
        "Accept": "application/json",
        "Content-Type": "application/json",
        TOKEN_HEADER: MASKED_TOKEN,
    }
    text = canonical_json(rendered.to_dict()).decode()
    assert "shpat_" not in text
    assert "shpua_" not in text
    body = body_of(rendered)
    assert isinstance(body, dict)
    assert set(body) == {"operationName", "query", "variables"}
    assert body["query"].startswith(f"mutation {body['operationName']}(")


def test_the_version_setting_and_the_url_template_place_the_request() -> None:
    later = adapter("2026-04").render(intent("product.upsert", PRODUCT))
    assert later.url == "https://my-shop.myshopify.com/admin/api/2026-04/graphql.json"
    fake = ShopifyAdapter(
        "http://127.0.0.1:9/admin/api/{version}/graphql.json", "2026-07", NoCredentials()
    )
    assert fake.render(intent("product.upsert", PRODUCT)).url == (
        "http://127.0.0.1:9/admin/api/2026-07/graphql.json"
    )


@pytest.mark.parametrize(
    "template",
    [
        "ftp://{shop}.example/admin/api/{version}/graphql.json",
        "https://{shop}.myshopify.com/admin/api/2026-01/graphql.json",
        "https://{shop}.myshopify.com/admin/api/{version}/graphql.json?x=1",
    ],
)
def test_a_bad_url_template_is_refused_when_built(template: str) -> None:
    with pytest.raises(ConfigurationError, match="AUTOPACK_SHOPIFY_API_URL") as info:
        ShopifyAdapter(template, "2026-01", NoCredentials())
    assert info.value.code == "invalid_setting"


def test_product_identifier_is_custom_id_else_handle_else_derived() -> None:
    derived = adapter().render(intent("product.upsert", PRODUCT))
    handle = derived_handle(intent("product.upsert", PRODUCT))
    assert re.fullmatch(r"autopack-[0-9a-f]{24}", handle)
    assert body_of(derived)["variables"]["identifier"] == {"handle": handle}
    assert body_of(derived)["variables"]["input"]["handle"] == handle
    assert derived.provider_idempotency_key == f"handle:{handle}"
    # Stable for the same key, different for another key or shop.
    again = adapter().render(intent("product.upsert", PRODUCT))
    assert again.provider_idempotency_key == derived.provider_idempotency_key
    other = adapter().render(intent("product.upsert", PRODUCT, key="k-2"))
    assert other.provider_idempotency_key != derived.provider_idempotency_key
    other_shop = adapter().render(intent("product.upsert", PRODUCT, account="other-shop"))
    assert other_shop.provider_idempotency_key != derived.provider_idempotency_key

    named = adapter().render(intent("product.upsert", {**PRODUCT, "handle": "linen-shirt"}))
    assert body_of(named)["variables"]["identifier"] == {"handle": "linen-shirt"}
    assert named.provider_idempotency_key == "handle:linen-shirt"

    custom = {"namespace": "erp", "key": "sku_family", "value": "LS-2026"}
    by_id = adapter().render(intent("product.upsert", {**PRODUCT, "customId": custom}))
    variables = body_of(by_id)["variables"]
    assert variables["identifier"] == {"customId": custom}
    # The product carries the id metafield its identifier names.
    assert variables["input"]["metafields"] == [{**custom, "type": "id"}]
    assert "handle" not in variables["input"]
    assert by_id.provider_idempotency_key == "customId:erp.sku_family=LS-2026"


def test_prices_stay_decimal_strings_and_variants_keep_shopify_shape() -> None:
    rendered = adapter().render(intent("product.upsert", PRODUCT))
    product = body_of(rendered)["variables"]["input"]
    assert product["variants"][1] == {
        "optionValues": [{"optionName": "Size", "name": "M"}],
        "price": "49.00",
        "compareAtPrice": "59.90",
    }
    assert product["productOptions"] == PRODUCT["productOptions"]
    assert product["status"] == "DRAFT"


def test_inventory_key_is_a_stable_uuid_bound_to_the_intent() -> None:
    rendered = adapter().render(intent("inventory.adjust", INVENTORY))
    key = idempotent_key(intent("inventory.adjust", INVENTORY))
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", key)
    assert rendered.provider_idempotency_key == key
    assert body_of(rendered)["variables"]["idempotencyKey"] == key
    assert "@idempotent(key: $idempotencyKey)" in body_of(rendered)["query"]
    assert key != idempotent_key(intent("inventory.adjust", INVENTORY, key="k-2"))
    assert key != idempotent_key(intent("inventory.adjust", INVENTORY, account="other-shop"))
    change = body_of(rendered)["variables"]["input"]["changes"][0]
    assert change["changeFromQuantity"] == 10


def test_each_action_sends_its_own_operation() -> None:
    queries = {
        action: body_of(adapter().render(intent(action, payload)))["query"]
        for action, payload in PAYLOADS.items()
    }
    assert queries == {
        "product.upsert": ops.PRODUCT_SET_MUTATION,
        "inventory.adjust": ops.INVENTORY_ADJUST_MUTATION,
        "metafields.set": ops.METAFIELDS_SET_MUTATION,
    }


def _without(payload: dict[str, Any], field: str) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if k != field}


def _variant(**changes: Any) -> dict[str, Any]:
    variant = {**PRODUCT["variants"][0], **changes}
    return {**PRODUCT, "variants": [variant]}


def _change(**changes: Any) -> dict[str, Any]:
    change = {**INVENTORY["changes"][0], **changes}
    return {**INVENTORY, "changes": [change]}


def _change_without(field: str) -> dict[str, Any]:
    return {**INVENTORY, "changes": [_without(INVENTORY["changes"][0], field)]}


def _metafield(**changes: Any) -> dict[str, Any]:
    return {"metafields": [{**METAFIELDS["metafields"][0], **changes}]}


REFUSALS: list[tuple[str, Any, str]] = [
    ("product.upsert", [], "payload"),
    ("product.upsert", _without(PRODUCT, "title"), "title"),
    ("product.upsert", {**PRODUCT, "title": "x" * 256}, "title"),
    ("product.upsert", _without(PRODUCT, "status"), "status"),
    ("product.upsert", {**PRODUCT, "status": "PUBLISHED"}, "status"),
    ("product.upsert", {**PRODUCT, "colour": "red"}, "colour"),
    ("product.upsert", {**PRODUCT, "handle": "Linen Shirt"}, "handle"),
    ("product.upsert", {**PRODUCT, "customId": {"namespace": "erp"}}, "customId"),
    ("product.upsert", {**PRODUCT, "tags": ["ok", ""]}, "tags"),
    ("product.upsert", _without(PRODUCT, "productOptions"), "productOptions"),
    ("product.upsert", _variant(price=49.0), "variants[0].price"),
    ("product.upsert", _variant(price=49), "variants[0].price"),
    ("product.upsert", _variant(price="49.00001"), "variants[0].price"),
    ("product.upsert", _variant(price="-1.00"), "variants[0].price"),
    ("product.upsert", _variant(weight="1"), "variants[0].weight"),
    ("product.upsert", _variant(taxable="yes"), "variants[0].taxable"),
    (
        "product.upsert",
        _variant(optionValues=[{"optionName": "Colour", "name": "S"}]),
        "variants[0].optionValues[0].optionName",
    ),
    (
        "product.upsert",
        _variant(optionValues=[{"optionName": "Size", "name": "XL"}]),
        "variants[0].optionValues[0].name",
    ),
    (
        "product.upsert",
        {**PRODUCT, "variants": [PRODUCT["variants"][0], PRODUCT["variants"][0]]},
        "variants[1].optionValues",
    ),
    ("inventory.adjust", _without(INVENTORY, "reason"), "reason"),
    ("inventory.adjust", {**INVENTORY, "name": "on_hand"}, "name"),
    ("inventory.adjust", {**INVENTORY, "changes": []}, "changes"),
    ("inventory.adjust", _change(delta=0), "changes[0].delta"),
    ("inventory.adjust", _change(delta=1.5), "changes[0].delta"),
    ("inventory.adjust", _change_without("changeFromQuantity"), "changes[0].changeFromQuantity"),
    ("inventory.adjust", _change(changeFromQuantity="10"), "changes[0].changeFromQuantity"),
    ("inventory.adjust", _change(inventoryItemId="30322695"), "changes[0].inventoryItemId"),
    (
        "inventory.adjust",
        _change(locationId="gid://shopify/InventoryItem/1"),
        "changes[0].locationId",
    ),
    (
        "inventory.adjust",
        _change(ledgerDocumentUri="erp://doc/1"),
        "changes[0].ledgerDocumentUri",
    ),
    (
        "inventory.adjust",
        {**INVENTORY, "name": "damaged"},
        "changes[0].ledgerDocumentUri",
    ),
    (
        "inventory.adjust",
        {**INVENTORY, "referenceDocumentUri": "not a uri"},
        "referenceDocumentUri",
    ),
    ("metafields.set", {"metafields": []}, "metafields"),
    ("metafields.set", _metafield(ownerId="20995642"), "metafields[0].ownerId"),
    ("metafields.set", _metafield(key="k"), "metafields[0].key"),
    ("metafields.set", _metafield(value=3), "metafields[0].value"),
    ("metafields.set", {"metafields": [METAFIELDS["metafields"][0]] * 2}, "metafields[1]"),
]


@pytest.mark.parametrize(("action", "payload", "field"), REFUSALS)
def test_every_refusal_names_its_field(action: str, payload: Any, field: str) -> None:
    with pytest.raises(ProviderPayloadError) as info:
        adapter().render(intent(action, payload))
    assert info.value.code == "invalid_provider_payload"
    assert info.value.details["field"] == field
    assert field in info.value.message


@pytest.mark.parametrize("account", ["My-Shop", "my-shop.myshopify.com", "-shop", "", "a/b"])
def test_the_account_must_be_a_shop_subdomain(account: str) -> None:
    with pytest.raises(ProviderPayloadError) as info:
        adapter().render(intent("metafields.set", METAFIELDS, account=account))
    assert info.value.details["field"] == "account"


def test_wrong_provider_or_action_is_refused_by_code() -> None:
    with pytest.raises(InvalidInputError, match="etsy") as info:
        adapter().render(Intent("etsy", "product.upsert", "my-shop", "k", PRODUCT))
    assert info.value.code == "wrong_provider"
    with pytest.raises(InvalidInputError, match=r"product\.create") as info:
        adapter().render(intent("product.create", PRODUCT))
    assert info.value.code == "unknown_action"


FUZZ_ADAPTER = adapter()  # one client for every example (render sends nothing)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


def _mutations(base: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Valid payloads with one field replaced or added by arbitrary JSON."""
    keys = st.sampled_from([*base, "extra"])
    return st.tuples(keys, JSON).map(lambda kv: {**base, kv[0]: kv[1]})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    action=st.sampled_from(sorted(PAYLOADS)),
    payload=JSON | _mutations(PRODUCT) | _mutations(INVENTORY) | _mutations(METAFIELDS),
)
def test_fuzzed_payloads_render_or_are_refused(action: str, payload: Any) -> None:
    try:
        rendered = FUZZ_ADAPTER.render(intent(action, payload))
    except ProviderPayloadError:
        return
    assert json.loads(canonical_json(rendered.to_dict()))["method"] == "POST"


@pytest.mark.parametrize("action", sorted(PAYLOADS))
def test_the_example_payload_renders_through_the_packet_wrapper(action: str) -> None:
    """The registry wraps the adapter: product.upsert takes a publish packet (its
    fields are the product), the other actions pass through unchanged."""
    payload = json.loads((EXAMPLES / action / "payload.json").read_text(encoding="utf-8"))
    wrapped = PacketAdapter(adapter(), PACKET_PROFILE)
    rendered = wrapped.render(intent(action, payload, account="default"))
    assert body_of(rendered)["operationName"].startswith("Autopack")
    if action == "product.upsert":
        assert payload["schema"] == "autopack.packet/1"
        assert body_of(rendered)["variables"]["input"]["title"] == payload["fields"]["title"]
        with pytest.raises(PacketError) as info:
            wrapped.render(intent(action, PRODUCT))  # a raw product: a packet is required
        assert info.value.code == "packet_required"
