"""The Shopify fake over real HTTP (the fakes process on 127.0.0.1): paths,
headers, status codes, GraphQL error shapes, upsert by identifier, @idempotent
replay, userErrors, extensions.cost, the THROTTLED fault and durability across a
SIGKILL. The queries here are written by hand, in shapes Shopify's own docs use
(a literal @idempotent key, other operation names), not the adapter's texts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fakes_support import FakesProcess, running_fakes

TOKEN = "shpat_" + "f4k3" * 8
ITEM = "gid://shopify/InventoryItem/30322695"
LOCATION = "gid://shopify/Location/124656943"

PRODUCT_SET = """mutation UpsertProduct($productSet: ProductSetInput!,
  $identifier: ProductSetIdentifiers) {
  productSet(synchronous: true, input: $productSet, identifier: $identifier) {
    product { id handle title }
    userErrors { code field message }
  }
}"""
BY_IDENTIFIER = """query Find($identifier: ProductIdentifierInput!) {
  productByIdentifier(identifier: $identifier) { id handle title }
}"""
ADJUST = """mutation InventoryAdjustWithIdempotency($input: InventoryAdjustQuantitiesInput!) {
  inventoryAdjustQuantities(input: $input)
  @idempotent(key: "3f5b6ebf-143c-4da5-8d0f-fb8553bfd85d") {
    inventoryAdjustmentGroup { id reason changes { name delta quantityAfterChange } }
    userErrors { code field message }
  }
}"""
ADJUST_WITHOUT_KEY = """mutation InventoryAdjustWithoutIdempotency(
  $input: InventoryAdjustQuantitiesInput!) {
  inventoryAdjustQuantities(input: $input) {
    inventoryAdjustmentGroup { id }
    userErrors { code field message }
  }
}"""
METAFIELDS = """mutation Set($metafields: [MetafieldsSetInput!]!) {
  metafieldsSet(metafields: $metafields) { metafields { id value } userErrors { code message } }
}"""


@pytest.fixture(scope="module")
def shared_fakes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakesProcess]:
    with running_fakes(tmp_path_factory.mktemp("shopify-fake"), "shopify") as fakes:
        yield fakes


@pytest.fixture
def fakes(shared_fakes: FakesProcess) -> FakesProcess:
    if not shared_fakes.alive:
        shared_fakes.restart()
    shared_fakes.reset()
    return shared_fakes


def gql(
    fakes: FakesProcess,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    version: str = "2026-01",
    token: str | None = TOKEN,
) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["X-Shopify-Access-Token"] = token
    with httpx.Client(timeout=10.0, trust_env=False) as client:
        return client.post(
            f"{fakes.url}/admin/api/{version}/graphql.json",
            json={"query": query, "variables": variables or {}},
            headers=headers,
        )


def adjust_input(delta: int, change_from: int | None) -> dict[str, Any]:
    return {
        "input": {
            "name": "available",
            "reason": "correction",
            "changes": [
                {
                    "delta": delta,
                    "changeFromQuantity": change_from,
                    "inventoryItemId": ITEM,
                    "locationId": LOCATION,
                }
            ],
        }
    }


def available(fakes: FakesProcess) -> int:
    levels = fakes.control("GET", "/shopify/levels")["levels"]
    found = [lv for lv in levels if lv["item"] == ITEM and lv["location"] == LOCATION]
    return int(found[0]["quantities"].get("available", 0)) if found else 0


def test_http_level_refusals(fakes: FakesProcess) -> None:
    missing = gql(fakes, BY_IDENTIFIER, {"identifier": {"handle": "x"}}, token=None)
    assert missing.status_code == 401
    assert missing.json() == {
        "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
    }
    assert gql(fakes, BY_IDENTIFIER, token="").status_code == 401
    assert gql(fakes, BY_IDENTIFIER, version="2026-02").status_code == 404
    with httpx.Client(timeout=10.0, trust_env=False) as client:
        url = f"{fakes.url}/admin/api/2026-01/graphql.json"
        got = client.get(url, headers={"X-Shopify-Access-Token": TOKEN})
        assert got.status_code == 405
        form = client.post(
            url, content=b"query=x", headers={"X-Shopify-Access-Token": TOKEN,
                                              "Content-Type": "text/plain"}
        )  # fmt: skip
        assert form.status_code == 415
        broken = client.post(
            url,
            content=b"{not json",
            headers={"X-Shopify-Access-Token": TOKEN, "Content-Type": "application/json"},
        )
        assert broken.status_code == 400
    ok = gql(fakes, BY_IDENTIFIER, {"identifier": {"handle": "nothing"}}, version="2026-04")
    assert ok.status_code == 200
    assert ok.headers["x-shopify-api-version"] == "2026-04"
    assert ok.json()["data"] == {"productByIdentifier": None}


def test_every_graphql_answer_carries_its_cost(fakes: FakesProcess) -> None:
    answer = gql(fakes, BY_IDENTIFIER, {"identifier": {"handle": "nothing"}}).json()
    cost = answer["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 1
    assert cost["throttleStatus"]["maximumAvailable"] == 2000.0
    assert 0 < cost["throttleStatus"]["currentlyAvailable"] <= 2000
    unknown = gql(fakes, "mutation X { productDelete(input: {}) { deletedProductId } }").json()
    assert unknown["errors"][0]["extensions"]["code"] == "undefinedField"
    assert unknown["errors"][0]["extensions"]["fieldName"] == "productDelete"
    assert unknown["extensions"]["cost"]["requestedQueryCost"] == 10
    assert "data" not in unknown
    garbage = gql(fakes, "{ shop { name } }").json()
    assert garbage["errors"][0]["extensions"]["code"] == "syntaxError"


def test_product_set_upserts_by_identifier(fakes: FakesProcess) -> None:
    variables = {
        "productSet": {"title": "Linen shirt", "handle": "linen-shirt", "status": "DRAFT"},
        "identifier": {"handle": "linen-shirt"},
    }
    first = gql(fakes, PRODUCT_SET, variables).json()["data"]["productSet"]
    assert first["userErrors"] == []
    product_id = first["product"]["id"]
    assert product_id.startswith("gid://shopify/Product/")
    variables["productSet"]["title"] = "Linen shirt, washed"
    second = gql(fakes, PRODUCT_SET, variables).json()["data"]["productSet"]
    assert second["product"]["id"] == product_id  # an upsert: the same product
    assert second["product"]["title"] == "Linen shirt, washed"
    effects = fakes.effects("shopify")
    assert [(e["id"], e["writes"]) for e in effects] == [(product_id, 2)]
    found = gql(fakes, BY_IDENTIFIER, {"identifier": {"handle": "linen-shirt"}}).json()
    assert found["data"]["productByIdentifier"]["id"] == product_id

    custom = {"namespace": "erp", "key": "family", "value": "LS-1"}
    by_custom = {
        "productSet": {
            "title": "Other",
            "metafields": [{**custom, "type": "id"}],
            "variants": [
                {"optionValues": [{"optionName": "Title", "name": "Default Title"}],
                 "price": "10.00"}
            ],
            "productOptions": [{"name": "Title", "values": [{"name": "Default Title"}]}],
        },
        "identifier": {"customId": custom},
    }  # fmt: skip
    made = gql(fakes, PRODUCT_SET, by_custom).json()["data"]["productSet"]["product"]
    again = gql(fakes, PRODUCT_SET, by_custom).json()["data"]["productSet"]["product"]
    assert made["id"] == again["id"] != product_id
    assert made["handle"] == "other"
    lookup = gql(fakes, BY_IDENTIFIER, {"identifier": {"customId": custom}}).json()
    assert lookup["data"]["productByIdentifier"]["id"] == made["id"]
    assert len(fakes.effects("shopify")) == 2
    missing_id = gql(
        fakes,
        PRODUCT_SET,
        {"productSet": {"title": "x"}, "identifier": {"id": "gid://shopify/Product/9"}},
    ).json()["data"]["productSet"]
    assert missing_id["userErrors"][0]["code"] == "PRODUCT_DOES_NOT_EXIST"


def test_user_errors_and_invalid_variables_keep_shopify_shapes(fakes: FakesProcess) -> None:
    blank = gql(fakes, PRODUCT_SET, {"productSet": {"title": " "}, "identifier": {"handle": "b"}})
    payload = blank.json()["data"]["productSet"]
    assert payload == {
        "product": None,
        "userErrors": [{"code": "BLANK", "field": ["input", "title"],
                        "message": "Title can't be blank"}],
    }  # fmt: skip
    wrong = gql(
        fakes,
        PRODUCT_SET,
        {"productSet": {"title": "x", "variants": [{"optionValues": [], "price": 1.5}]}},
    ).json()
    error = wrong["errors"][0]
    assert error["extensions"]["code"] == "INVALID_VARIABLE"
    assert error["extensions"]["problems"][0]["path"] == ["variants", 0, "price"]
    assert "data" not in wrong
    enum = gql(fakes, PRODUCT_SET, {"productSet": {"title": "x", "status": "LIVE"}}).json()
    assert enum["errors"][0]["extensions"]["problems"][0]["path"] == ["status"]
    assert fakes.effects("shopify") == []


def test_idempotent_key_returns_the_first_answer_and_adjusts_once(fakes: FakesProcess) -> None:
    first = gql(fakes, ADJUST, adjust_input(4, None)).json()["data"]["inventoryAdjustQuantities"]
    assert first["userErrors"] == []
    assert [(c["name"], c["quantityAfterChange"]) for c in first["inventoryAdjustmentGroup"]
            ["changes"]] == [("available", 4), ("on_hand", 4)]  # fmt: skip
    for _ in range(2):
        again = gql(fakes, ADJUST, adjust_input(4, None)).json()
        assert again["data"]["inventoryAdjustQuantities"] == first
    assert available(fakes) == 4
    groups = [e for e in fakes.effects("shopify") if e["kind"] == "adjustment_group"]
    assert len(groups) == 1
    # The same key with other parameters is refused.
    other = gql(fakes, ADJUST, adjust_input(5, None)).json()["data"]["inventoryAdjustQuantities"]
    assert other["userErrors"][0]["code"] == "IDEMPOTENCY_KEY_PARAMETER_MISMATCH"
    assert available(fakes) == 4


def test_the_directive_by_version_and_compare_and_set(fakes: FakesProcess) -> None:
    required = gql(fakes, ADJUST_WITHOUT_KEY, adjust_input(1, None), version="2026-04").json()
    assert required["errors"][0]["message"].startswith("The @idempotent directive is required")
    before = gql(fakes, ADJUST, adjust_input(1, None), version="2025-10").json()
    assert before["errors"][0]["extensions"]["code"] == "undefinedDirective"
    optional = gql(fakes, ADJUST_WITHOUT_KEY, adjust_input(2, 0), version="2026-01").json()
    assert optional["data"]["inventoryAdjustQuantities"]["userErrors"] == []
    stale = gql(fakes, ADJUST_WITHOUT_KEY, adjust_input(2, 0), version="2026-01").json()
    errors = stale["data"]["inventoryAdjustQuantities"]["userErrors"]
    assert errors[0]["code"] == "CHANGE_FROM_QUANTITY_STALE"
    assert errors[0]["field"] == ["input", "changes", "0", "changeFromQuantity"]
    assert available(fakes) == 2


def test_throttled_fault_has_the_real_shape_and_no_effect(fakes: FakesProcess) -> None:
    fakes.set_faults(
        {"provider": "shopify", "kind": "throttled", "available": 3, "restore_rate": 50.0}
    )
    answer = gql(fakes, ADJUST, adjust_input(1, None))
    assert answer.status_code == 200
    body = answer.json()
    assert body["errors"] == [
        {
            "message": "Throttled",
            "extensions": {
                "code": "THROTTLED",
                "documentation": "https://shopify.dev/api/usage/rate-limits",
            },
        }
    ]
    assert body["extensions"]["cost"] == {
        "requestedQueryCost": 10,
        "actualQueryCost": None,
        "throttleStatus": {
            "maximumAvailable": 2000.0,
            "currentlyAvailable": 3,
            "restoreRate": 50.0,
        },
    }
    assert fakes.effects("shopify") == []
    assert available(fakes) == 0


def test_ignore_idempotency_fault_applies_a_repeated_key_again(fakes: FakesProcess) -> None:
    gql(fakes, ADJUST, adjust_input(3, None))
    fakes.set_faults({"provider": "shopify", "kind": "ignore_idempotency"})
    gql(fakes, ADJUST, adjust_input(3, None))
    assert available(fakes) == 6


def test_metafields_set_overwrites_one_slot(fakes: FakesProcess) -> None:
    product = gql(
        fakes, PRODUCT_SET, {"productSet": {"title": "M"}, "identifier": {"handle": "m"}}
    ).json()["data"]["productSet"]["product"]
    entry = {"ownerId": product["id"], "namespace": "custom", "key": "care",
             "type": "single_line_text_field", "value": "cold"}  # fmt: skip
    first = gql(fakes, METAFIELDS, {"metafields": [entry]}).json()["data"]["metafieldsSet"]
    second = gql(fakes, METAFIELDS, {"metafields": [{**entry, "value": "warm"}]}).json()
    assert second["data"]["metafieldsSet"]["metafields"][0]["id"] == first["metafields"][0]["id"]
    stored = [e for e in fakes.effects("shopify") if e["kind"] == "metafield"]
    assert [(m["value"], m["writes"]) for m in stored] == [("warm", 2)]
    orphan = {**entry, "ownerId": "gid://shopify/Product/77"}
    refused = gql(fakes, METAFIELDS, {"metafields": [orphan]}).json()["data"]["metafieldsSet"]
    assert refused["userErrors"][0]["code"] == "INVALID_VALUE"


def test_effects_and_keys_survive_a_crash(fakes: FakesProcess) -> None:
    fakes.set_faults({"provider": "shopify", "kind": "lost_response"})
    with pytest.raises(httpx.RemoteProtocolError):
        gql(fakes, ADJUST, adjust_input(7, 0))
    fakes.kill()
    fakes.restart()
    assert available(fakes) == 7  # committed before the (lost) answer
    replay = gql(fakes, ADJUST, adjust_input(7, 0)).json()["data"]["inventoryAdjustQuantities"]
    assert replay["userErrors"] == []  # the first answer, not a stale compare-and-set
    assert available(fakes) == 7
    assert fakes.stderr_problems() == []


def test_the_level_control_stocks_and_refuses_bad_input(
    fakes: FakesProcess, tmp_path: Path
) -> None:
    body = {"inventoryItemId": ITEM, "locationId": LOCATION, "name": "available", "quantity": 9}
    fakes.control("POST", "/shopify/level", body)
    assert available(fakes) == 9
    with pytest.raises(httpx.HTTPStatusError):
        fakes.control("POST", "/shopify/level", {**body, "quantity": "9"})
    with pytest.raises(httpx.HTTPStatusError):
        fakes.control("GET", "/shopify/nothing")
