"""Contract: the Shopify adapter's GraphQL against Shopify's published definitions,
pinned in tests/providers/shopify_facts.py (no SDK: Shopify's
Python package is REST-centric and hides the bytes).

Each operation text is parsed (a small GraphQL reader below: operations,
variable definitions, fields, arguments, directives, selections) and checked
field by field: the root field and its operation type, every argument and its
variable's type, the @idempotent directive, every selected field; each example
payload's rendered variables are walked against the input object definitions;
the identifier shape, the token header, the endpoint and the version setting
match the facts."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from shopify_facts import FACTS

from autopack.domain.packets import adapter_payload, is_packet, open_packet
from autopack.domain.providers import Intent
from autopack.providers.shopify import operations as ops
from autopack.providers.shopify.adapter import TOKEN_HEADER, ShopifyAdapter
from autopack.providers.shopify.classify import throttle_wait_seconds
from autopack.providers.shopify.packet import PACKET_PROFILE
from autopack.settings import DEFAULT_SHOPIFY_API_URL, DEFAULT_SHOPIFY_API_VERSION, Settings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "shopify"
OPERATIONS = {
    "product.upsert": ops.PRODUCT_SET_MUTATION,
    "inventory.adjust": ops.INVENTORY_ADJUST_MUTATION,
    "metafields.set": ops.METAFIELDS_SET_MUTATION,
    "lookup": ops.PRODUCT_BY_IDENTIFIER_QUERY,
}

# -- a small GraphQL reader (executable documents with one operation) -----------------

_TOKEN = re.compile(r'\s+|,|#[^\n]*|(?P<tok>[{}()\[\]:!$@=]|"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?|\w+)')


def tokens(text: str) -> list[str]:
    found: list[str] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        assert match is not None, f"cannot read {text[position : position + 20]!r}"
        if match["tok"]:
            found.append(match["tok"])
        position = match.end()
    return found


class Reader:
    def __init__(self, text: str) -> None:
        self.toks = tokens(text)
        self.i = 0

    def peek(self) -> str | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, expected: str | None = None) -> str:
        tok = self.peek()
        assert tok is not None, "unexpected end"
        assert expected is None or tok == expected, f"expected {expected!r}, got {tok!r}"
        self.i += 1
        return tok

    def name(self) -> str:
        tok = self.take()
        assert re.fullmatch(r"[_A-Za-z]\w*", tok), f"not a name: {tok!r}"
        return tok

    def operation(self) -> dict[str, Any]:
        kind = self.take()
        assert kind in ("query", "mutation")
        name = self.name() if self.peek() not in ("(", "{") else None
        variables: dict[str, str] = {}
        if self.peek() == "(":
            self.take("(")
            while self.peek() != ")":
                self.take("$")
                var = self.name()
                self.take(":")
                variables[var] = self.type()
            self.take(")")
        selections = self.selections()
        assert self.peek() is None, "one operation per document"
        return {"kind": kind, "name": name, "variables": variables, "selections": selections}

    def type(self) -> str:
        if self.peek() == "[":
            self.take("[")
            inner = self.type()
            self.take("]")
            text = f"[{inner}]"
        else:
            text = self.name()
        if self.peek() == "!":
            self.take("!")
            text += "!"
        return text

    def selections(self) -> list[dict[str, Any]]:
        self.take("{")
        fields = []
        while self.peek() != "}":
            field: dict[str, Any] = {"name": self.name(), "arguments": {}, "directives": {}}
            if self.peek() == "(":
                field["arguments"] = self.arguments()
            while self.peek() == "@":
                self.take("@")
                directive = self.name()
                field["directives"][directive] = self.arguments() if self.peek() == "(" else {}
            field["selections"] = self.selections() if self.peek() == "{" else []
            fields.append(field)
        self.take("}")
        return fields

    def arguments(self) -> dict[str, Any]:
        self.take("(")
        values: dict[str, Any] = {}
        while self.peek() != ")":
            key = self.name()
            self.take(":")
            values[key] = self.value()
        self.take(")")
        return values

    def value(self) -> Any:
        tok = self.take()
        if tok == "$":
            return ("$", self.name())
        if tok in ("true", "false", "null"):
            return json.loads(tok)
        if tok.startswith('"') or re.fullmatch(r"-?\d+(\.\d+)?", tok):
            return json.loads(tok)
        raise AssertionError(f"unsupported value {tok!r}")


def parse(text: str) -> dict[str, Any]:
    return Reader(text).operation()


def test_the_reader_reads_what_shopify_documents_and_refuses_broken_text() -> None:
    documented = parse(
        "mutation A($input: InventoryAdjustQuantitiesInput!) { inventoryAdjustQuantities("
        'input: $input) @idempotent(key: "3f5b6ebf") { userErrors { field message } } }'
    )
    root = documented["selections"][0]
    assert root["directives"] == {"idempotent": {"key": "3f5b6ebf"}}
    for broken in ("mutation { a ", "mutation A($x Int) { a }", "query { a } query { b }"):
        with pytest.raises(AssertionError):
            parse(broken)


# -- the operations against the facts ---------------------------------------------------


def _compatible(variable_type: str, argument_type: str) -> bool:
    """A variable fits an argument of the same type; a non-null one also fits nullable."""
    return variable_type in (argument_type, argument_type + "!")


def _check_selections(selections: list[dict[str, Any]], type_name: str) -> None:
    allowed = FACTS["objects"].get(type_name)
    for field in selections:
        if allowed is not None:
            assert field["name"] in allowed, f"{type_name} has no field {field['name']}"
        if field["name"] == "changes" and type_name == "InventoryAdjustmentGroup":
            _check_selections(field["selections"], "InventoryChange")
        elif field["name"] in ("item", "location"):
            assert [f["name"] for f in field["selections"]] == ["id"]


@pytest.mark.parametrize("which", sorted(OPERATIONS))
def test_each_operation_matches_the_published_field(which: str) -> None:
    document = parse(OPERATIONS[which])
    assert len(document["selections"]) == 1
    root = document["selections"][0]
    fact = FACTS["fields"][root["name"]]
    assert document["kind"] == fact["operation"]
    used: set[str] = set()
    for argument, value in root["arguments"].items():
        assert argument in fact["arguments"], f"{root['name']} has no argument {argument}"
        expected = fact["arguments"][argument]
        if isinstance(value, tuple):
            used.add(value[1])
            assert _compatible(document["variables"][value[1]], expected), (argument, expected)
        else:
            assert expected.rstrip("!") == "Boolean"
            assert isinstance(value, bool)
    for name, arguments in root["directives"].items():
        declared = fact.get("directives", {}).get(name)
        assert declared is not None, f"{root['name']} takes no @{name}"
        for argument, value in arguments.items():
            assert argument in declared
            assert isinstance(value, tuple)
            used.add(value[1])
            assert _compatible(document["variables"][value[1]], declared[argument])
    # Every required argument is given; every declared variable is used.
    required = {a for a, t in fact["arguments"].items() if t.endswith("!")}
    assert required <= set(root["arguments"])
    assert used == set(document["variables"])
    if fact["operation"] == "mutation":
        for field in root["selections"]:
            assert field["name"] in fact["payload"], f"payload has no {field['name']}"
            _check_selections(field["selections"], fact["payload"][field["name"]])
        # userErrors selects every published field (the codes are kept).
        user_errors = next(f for f in root["selections"] if f["name"] == "userErrors")
        published = FACTS["objects"][fact["payload"]["userErrors"]]
        assert sorted(f["name"] for f in user_errors["selections"]) == sorted(published)
    else:
        _check_selections(root["selections"], fact["returns"])


def test_product_set_is_synchronous_and_keyed_by_identifier() -> None:
    root = parse(ops.PRODUCT_SET_MUTATION)["selections"][0]
    assert root["arguments"]["synchronous"] is True
    assert root["arguments"]["identifier"] == ("$", "identifier")
    adjust = parse(ops.INVENTORY_ADJUST_MUTATION)["selections"][0]
    assert adjust["directives"] == {"idempotent": {"key": ("$", "idempotencyKey")}}


# -- rendered variables against the input definitions ---------------------------------


def _walk(value: Any, type_text: str, where: str) -> None:
    base = type_text.rstrip("!")
    if base.startswith("["):
        assert isinstance(value, list), where
        for i, item in enumerate(value):
            _walk(item, base[1:-1], f"{where}[{i}]")
        return
    if base in FACTS["inputs"]:
        fields = FACTS["inputs"][base]
        assert isinstance(value, dict), where
        for key, item in value.items():
            assert key in fields, f"{where}: {base} has no field {key}"
            if item is not None:
                _walk(item, fields[key], f"{where}.{key}")
        missing = [k for k, t in fields.items() if t.endswith("!") and k not in value]
        assert not missing, f"{where}: {base} needs {missing}"
        return
    if base in FACTS["enums"]:
        assert value in FACTS["enums"][base], where
        return
    scalars: dict[str, type] = {"String": str, "ID": str, "Money": str, "Int": int, "Boolean": bool}
    assert isinstance(value, scalars[base]), f"{where}: {value!r} is not {base}"
    if base == "Money":
        assert re.fullmatch(r"\d+(\.\d+)?", str(value)), f"{where}: Money is a decimal string"
    if base == "ID":
        assert str(value).startswith("gid://shopify/"), where


class NoCredentials:
    def access_token(self, account: str) -> str:
        raise AssertionError("render reads no credential")

    def api_key(self, account: str) -> Any:
        raise AssertionError("render reads no credential")


def _example(action: str) -> Intent:
    """The example as the adapter sees it (a packet opened into its fields)."""
    payload = json.loads((EXAMPLES / action / "payload.json").read_text(encoding="utf-8"))
    if is_packet(payload):
        payload = adapter_payload(open_packet(payload, PACKET_PROFILE), PACKET_PROFILE)
    return Intent("shopify", action, "default", "contract-1", payload)


@pytest.mark.parametrize("action", ["product.upsert", "inventory.adjust", "metafields.set"])
def test_rendered_variables_fit_the_published_inputs(action: str) -> None:
    with ShopifyAdapter(
        DEFAULT_SHOPIFY_API_URL, DEFAULT_SHOPIFY_API_VERSION, NoCredentials()
    ) as adapter:
        rendered = adapter.render(_example(action))
        custom = {"namespace": "erp", "key": "family", "value": "F-1"}
        by_custom = _example("product.upsert")
        by_custom = Intent(
            "shopify", "product.upsert", "default", "c-2", {**by_custom.payload, "customId": custom}
        )
        custom_render = adapter.render(by_custom)
    body: Any = rendered.body
    document = parse(body["query"])
    for name, variable_type in document["variables"].items():
        assert name in body["variables"]
        _walk(body["variables"][name], variable_type, f"${name}")
    assert set(body["variables"]) == set(document["variables"])
    if action == "product.upsert":
        for render in (rendered, custom_render):
            rendered_body: Any = render.body
            identifier = rendered_body["variables"]["identifier"]
            assert len(identifier) == 1  # exactly one of id | handle | customId
            assert set(identifier) <= set(FACTS["inputs"]["ProductSetIdentifiers"])
            _walk(identifier, "ProductIdentifierInput!", "lookup identifier")


# -- endpoint, header, version, throttle -----------------------------------------------


def test_endpoint_header_and_version_setting_follow_the_facts() -> None:
    assert FACTS["endpoint"] == DEFAULT_SHOPIFY_API_URL
    assert FACTS["token_header"] == TOKEN_HEADER
    year, month = DEFAULT_SHOPIFY_API_VERSION.split("-")
    assert month in FACTS["version_months"]
    assert year.isdigit()
    # The default has every feature the adapter sends (the directive is newest).
    for feature in ("productByIdentifier", "productSet_identifier_upsert", "idempotent_directive"):
        assert FACTS["since"][feature] <= DEFAULT_SHOPIFY_API_VERSION, feature
    assert Settings(_env_file=None).shopify_api_version == DEFAULT_SHOPIFY_API_VERSION
    assert Settings(_env_file=None, shopify_api_version="2026-04").shopify_api_version == "2026-04"
    for refused in ("2025-10", "2026-02", "2026-1", "unstable", "latest"):
        with pytest.raises(ValidationError):
            Settings(_env_file=None, shopify_api_version=refused)


def test_the_throttle_wait_reads_the_published_cost_fields() -> None:
    status = dict.fromkeys(FACTS["throttled"]["throttle_status"], 0.0)
    status.update(maximumAvailable=1000.0, currentlyAvailable=10.0, restoreRate=50.0)
    cost: dict[str, Any] = dict.fromkeys(FACTS["throttled"]["cost"])
    cost.update(requestedQueryCost=110, throttleStatus=status)
    assert throttle_wait_seconds({"extensions": {"cost": cost}}) == pytest.approx(2.0)
    assert throttle_wait_seconds({"extensions": {}}) is None
