"""A wire-faithful fake of the Shopify Admin GraphQL API (one shop).

``POST /admin/api/{version}/graphql.json`` with ``X-Shopify-Access-Token``
(401 ``{"errors": "[API] Invalid API key or access token ..."}`` without one)
and a JSON body ``{"query", "variables", "operationName"?}``. This is not a
general GraphQL engine: it reads the operation's header (type, variable
definitions), its one root field with its arguments and directives, and serves
the root fields Autopack sends, validating the variables against Shopify's
documented input shapes:

    productSet(input:, identifier:, synchronous:)     upsert by id | handle | customId
    productByIdentifier(identifier:)                  the product, or null
    inventoryAdjustQuantities(input:) @idempotent(key:)
                                                      a repeated key returns the first
                                                      answer and adjusts nothing
    metafieldsSet(metafields:)                        create or overwrite values

Any other root field is a GraphQL error (``undefinedField``); a variable of the
wrong shape is ``INVALID_VARIABLE`` with its problems, like Shopify; business
refusals are ``userErrors`` with codes. Every answer carries
``extensions.cost`` from a leaky bucket (2000 points, 100 restored per second).
Every effect is committed to the store before the answer is built.

Fault kinds of this fake (queued through the host's control API):

    throttled            THROTTLED with the real error and cost shape; nothing done.
                         params: available (points left, default 0),
                         restore_rate (default 100.0)
    ignore_idempotency   the next @idempotent key is not honoured (the behaviour
                         one community report describes): the change applies again
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from autopack.fakes.protocol import FakeRequest, FakeResponse, Fault, json_response
from autopack.fakes.store import FakeStore

NAME: Final = "shopify"
PREFIX: Final = "/admin/api/"
PATH: Final = re.compile(r"^/admin/api/(?P<version>\d{4}-(?:01|04|07|10)|unstable)/graphql\.json$")
IDEMPOTENT_SINCE: Final = "2026-01"
IDEMPOTENT_REQUIRED_SINCE: Final = "2026-04"
BUCKET_SIZE: Final = 2000.0
RESTORE_RATE: Final = 100.0
MUTATION_COST: Final = 10
QUERY_COST: Final = 1
INVALID_TOKEN: Final = (
    "[API] Invalid API key or access token (unrecognized login or wrong password)"  # noqa: S105 - a message
)

PRODUCT_SET_FIELDS: Final = frozenset(
    {
        "title", "descriptionHtml", "vendor", "productType", "tags", "status", "handle",
        "productOptions", "variants", "metafields", "seo", "templateSuffix", "giftCard",
        "collections", "files", "category", "requiresSellingPlan", "claimOwnership",
        "redirectNewHandle", "combinedListingRole",
    }
)  # fmt: skip
VARIANT_FIELDS: Final = frozenset(
    {
        "id", "optionValues", "price", "compareAtPrice", "sku", "barcode", "taxable",
        "inventoryPolicy", "inventoryItem", "inventoryQuantities", "metafields", "file",
        "position", "requiresComponents", "taxCode",
    }
)  # fmt: skip
PRODUCT_STATUSES: Final = frozenset({"ACTIVE", "ARCHIVED", "DRAFT", "UNLISTED"})
INVENTORY_POLICIES: Final = frozenset({"CONTINUE", "DENY"})
ADJUST_FIELDS: Final = frozenset({"reason", "name", "referenceDocumentUri", "changes"})
CHANGE_FIELDS: Final = frozenset(
    {"inventoryItemId", "locationId", "delta", "changeFromQuantity", "ledgerDocumentUri"}
)
REASONS: Final = frozenset(
    {
        "correction", "cycle_count_available", "damaged", "movement_canceled",
        "movement_created", "movement_received", "movement_updated", "other", "promotion",
        "quality_control", "received", "reservation_created", "reservation_deleted",
        "reservation_updated", "restock", "safety_stock", "shrinkage",
    }
)  # fmt: skip
QUANTITY_NAMES: Final = frozenset(
    {"available", "damaged", "incoming", "quality_control", "reserved", "safety_stock"}
)
# Quantity states that are part of on_hand (adjusting one adjusts on_hand too).
ON_HAND_PARTS: Final = QUANTITY_NAMES - {"incoming"}
METAFIELD_FIELDS: Final = frozenset(
    {"ownerId", "namespace", "key", "type", "value", "compareDigest"}
)
MONEY: Final = re.compile(r"^-?\d{1,15}(\.\d{1,4})?$")
HANDLE: Final = re.compile(r"^[a-z0-9][a-z0-9-]*$")

# -- a tiny reader for the operations Autopack sends ------------------------------------

_HEADER = re.compile(
    r"^\s*(?P<type>query|mutation)\b\s*(?P<name>[_A-Za-z]\w*)?\s*"
    r"(?:\((?P<defs>[^)]*)\))?\s*\{",
)
_VAR_DEF = re.compile(r"\$(?P<name>\w+)\s*:\s*(?P<type>[\w\[\]!]+)")
_ROOT = re.compile(
    r"\s*(?P<field>[_A-Za-z]\w*)\s*(?:\((?P<args>[^)]*)\))?\s*"
    r"(?P<directives>(?:@\w+\s*(?:\([^)]*\))?\s*)*)\{"
)
_ARG = re.compile(
    r"(?P<name>\w+)\s*:\s*(?P<value>\$\w+|\"(?:[^\"\\]|\\.)*\"|true|false|null|-?\d+)"
)
_DIRECTIVE = re.compile(r"@(?P<name>\w+)\s*(?:\((?P<args>[^)]*)\))?")


class GraphQLError(Exception):
    """A top-level error: ``{"message", "extensions": {"code", ...}}``."""

    def __init__(self, message: str, code: str, **extra: Any) -> None:
        super().__init__(message)
        self.error: dict[str, Any] = {"message": message, "extensions": {"code": code, **extra}}


class Operation:
    """The parts of one request's operation the fake needs."""

    def __init__(self, query: str, variables: Mapping[str, Any]) -> None:
        header = _HEADER.match(query)
        if header is None:
            raise GraphQLError(
                "syntax error: expected a query or mutation with a selection", "syntaxError"
            )
        self.type = header["type"]
        self.declared = {m["name"]: m["type"] for m in _VAR_DEF.finditer(header["defs"] or "")}
        root = _ROOT.match(query, header.end())
        if root is None:
            raise GraphQLError("syntax error: expected a root field", "syntaxError")
        self.field = root["field"]
        self._root_args = root["args"] or ""
        self.arguments = {
            m["name"]: self._value(m["value"], variables) for m in _ARG.finditer(root["args"] or "")
        }
        self.directives: dict[str, dict[str, Any]] = {}
        for directive in _DIRECTIVE.finditer(root["directives"] or ""):
            self.directives[directive["name"]] = {
                m["name"]: self._value(m["value"], variables)
                for m in _ARG.finditer(directive["args"] or "")
            }
        for name in self.declared:
            if self.declared[name].endswith("!") and variables.get(name) is None:
                raise GraphQLError(
                    f"Variable ${name} of type {self.declared[name]} was provided invalid value",
                    "INVALID_VARIABLE",
                    value=None,
                    problems=[{"path": [], "explanation": "Expected value to not be null"}],
                )

    def _value(self, token: str, variables: Mapping[str, Any]) -> Any:
        if token.startswith("$"):
            name = token[1:]
            if name not in self.declared:
                raise GraphQLError(
                    f"Variable ${name} is used but not declared", "variableNotDefined"
                )
            return variables.get(name)
        return json.loads(token)

    def require_type(self, argument: str, graphql_type: str) -> None:
        """The variable bound to ``argument`` must be declared with this type."""
        match = re.search(rf"\b{argument}\s*:\s*\$(\w+)", self._root_args)
        declared = self.declared.get(match[1]) if match else None
        if declared is not None and declared.rstrip("!") != graphql_type.rstrip("!"):
            raise GraphQLError(
                f"Type mismatch on variable ${match[1] if match else ''} and argument "
                f"{argument} ({declared} / {graphql_type})",
                "variableMismatch",
            )


def _invalid(name: str, type_: str, value: Any, path: list[Any], explanation: str) -> GraphQLError:
    return GraphQLError(
        f"Variable ${name} of type {type_} was provided invalid value for "
        f"{'.'.join(str(p) for p in path)} ({explanation})",
        "INVALID_VARIABLE",
        value=value,
        problems=[{"path": path, "explanation": explanation}],
    )


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ShopifyFake:
    """FakeProvider for Shopify. One shop: the store holds its products,
    inventory levels, adjustment groups, metafields and idempotency keys."""

    def __init__(self, store: FakeStore) -> None:
        self._store = store
        self._bucket = BUCKET_SIZE
        self._bucket_at = time.monotonic()
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return NAME

    @property
    def prefixes(self) -> tuple[str, ...]:
        return (PREFIX,)

    def effects(self) -> list[dict[str, Any]]:
        """Products, adjustment groups and metafields, oldest first (levels and
        idempotency records are bookkeeping, not effects)."""
        return [
            o
            for o in self._store.all(NAME)
            if o.get("kind") in ("product", "adjustment_group", "metafield")
        ]

    # -- HTTP ------------------------------------------------------------------------

    def handle(self, request: FakeRequest, fault: Fault | None) -> FakeResponse:
        path = PATH.match(request.path)
        if path is None:
            return json_response(404, {"errors": "Not Found"})
        if request.method != "POST":
            return json_response(405, {"errors": "Method Not Allowed"})
        if not request.headers.get("x-shopify-access-token", "").strip():
            return json_response(401, {"errors": INVALID_TOKEN})
        version = path["version"]
        headers = {"X-Shopify-API-Version": version}
        content_type = request.headers.get("content-type", "")
        if not content_type.startswith("application/json"):
            return json_response(415, {"errors": "Unsupported Media Type"}, headers)
        try:
            body = request.json()
        except ValueError:
            return json_response(400, {"errors": "Bad Request: the body is not JSON"}, headers)
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return json_response(400, {"errors": "Bad Request: no query"}, headers)
        variables = body.get("variables") or {}
        if not isinstance(variables, dict):
            return json_response(400, {"errors": "Bad Request: variables"}, headers)
        cost = QUERY_COST if body["query"].lstrip().startswith("query") else MUTATION_COST
        if fault is not None and fault.kind == "throttled":
            left = float(fault.params.get("available", 0))
            rate = float(fault.params.get("restore_rate", RESTORE_RATE))
            return json_response(200, self._throttled(cost, left, rate), headers)
        available = self._take(cost)
        if available is None:
            return json_response(200, self._throttled(cost, self._level(), RESTORE_RATE), headers)
        try:
            operation = Operation(body["query"], variables)
            data = self._execute(operation, version, fault)
            answer: dict[str, Any] = {"data": data}
        except GraphQLError as exc:
            answer = {"errors": [exc.error]}
        answer["extensions"] = {"cost": self._cost(cost, cost, available, RESTORE_RATE)}
        return json_response(200, answer, headers)

    # -- the cost bucket -----------------------------------------------------------------

    def _level(self) -> float:
        now = time.monotonic()
        self._bucket = min(BUCKET_SIZE, self._bucket + (now - self._bucket_at) * RESTORE_RATE)
        self._bucket_at = now
        return self._bucket

    def _take(self, cost: int) -> float | None:
        with self._lock:
            if self._level() < cost:
                return None
            self._bucket -= cost
            return self._bucket

    def _cost(
        self, requested: int, actual: int | None, available: float, rate: float
    ) -> dict[str, Any]:
        return {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": {
                "maximumAvailable": BUCKET_SIZE,
                "currentlyAvailable": int(available),
                "restoreRate": rate,
            },
        }

    def _throttled(self, cost: int, available: float, rate: float) -> dict[str, Any]:
        return {
            "errors": [
                {
                    "message": "Throttled",
                    "extensions": {
                        "code": "THROTTLED",
                        "documentation": "https://shopify.dev/api/usage/rate-limits",
                    },
                }
            ],
            "extensions": {"cost": self._cost(cost, None, available, rate)},
        }

    # -- operations ------------------------------------------------------------------------

    def _execute(self, op: Operation, version: str, fault: Fault | None) -> dict[str, Any]:
        handlers = {
            ("mutation", "productSet"): self._product_set,
            ("query", "productByIdentifier"): self._product_by_identifier,
            ("mutation", "inventoryAdjustQuantities"): self._inventory_adjust,
            ("mutation", "metafieldsSet"): self._metafields_set,
        }
        handler = handlers.get((op.type, op.field))
        if handler is None:
            type_name = "Mutation" if op.type == "mutation" else "QueryRoot"
            raise GraphQLError(
                f"Field '{op.field}' doesn't exist on type '{type_name}'",
                "undefinedField",
                typeName=type_name,
                fieldName=op.field,
            )
        for directive in op.directives:
            if directive != "idempotent":
                raise GraphQLError(f"Directive '@{directive}' is not defined", "undefinedDirective")
        return {op.field: handler(op, version, fault)}

    # productSet ----------------------------------------------------------------------

    def _product_set(self, op: Operation, version: str, fault: Fault | None) -> dict[str, Any]:
        op.require_type("input", "ProductSetInput!")
        op.require_type("identifier", "ProductSetIdentifiers")
        product_input = _check_product_input(op.arguments.get("input"))
        identifier = op.arguments.get("identifier")
        if identifier is not None:
            identifier = _check_identifier(identifier, "identifier", "ProductSetIdentifiers")
        errors = _product_user_errors(product_input)
        if errors:
            return {"product": None, "userErrors": errors}
        with self._store.transaction() as db:
            existing = self._find_product(db, identifier) if identifier else None
            if identifier and identifier.get("id") and existing is None:
                return {
                    "product": None,
                    "userErrors": [
                        {
                            "code": "PRODUCT_DOES_NOT_EXIST",
                            "field": ["identifier", "id"],
                            "message": "Product does not exist",
                        }
                    ],
                }
            handle = product_input.get("handle")
            if handle is not None:
                owners = _find_by(db, "product", "handle", handle)
                if owners and (existing is None or owners[0]["id"] != existing["id"]):
                    return {
                        "product": None,
                        "userErrors": [
                            {
                                "code": "TAKEN",
                                "field": ["input", "handle"],
                                "message": f"Handle '{handle}' already in use",
                            }
                        ],
                    }
            if existing is None:
                if handle is None and identifier and identifier.get("handle"):
                    handle = identifier["handle"]
                handle = self._free_handle(db, handle or _slug(product_input["title"]))
                number = _next(db, "product")
                product: dict[str, Any] = {
                    "kind": "product",
                    "id": f"gid://shopify/Product/{number}",
                    "createdAt": _now(),
                    "writes": 0,
                }
            else:
                product = existing
                handle = handle or product["handle"]
            product.update(
                {k: v for k, v in product_input.items() if k not in ("handle", "variants")}
            )
            product["handle"] = handle
            product.setdefault("status", "ACTIVE")
            product["variants"] = self._variants(db, product, product_input)
            product["writes"] = int(product["writes"]) + 1
            product["updatedAt"] = _now()
            _put(db, "product", product["id"], product)
        return {"product": _product_view(product), "userErrors": []}

    def _variants(
        self, db: Any, product: Mapping[str, Any], product_input: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        """Replaced wholesale; a variant with the same option values keeps its id."""
        old = {
            json.dumps(v["optionValues"], sort_keys=True): v["id"]
            for v in product.get("variants", [])
        }
        given = product_input.get("variants")
        if given is None:
            if product.get("variants"):
                return list(product["variants"])
            given = [{"optionValues": [{"optionName": "Title", "name": "Default Title"}]}]
        variants = []
        for variant in given:
            key = json.dumps(variant["optionValues"], sort_keys=True)
            variant_id = old.get(key) or f"gid://shopify/ProductVariant/{_next(db, 'variant')}"
            variants.append({"id": variant_id, **variant, "price": variant.get("price", "0.00")})
        return variants

    def _find_product(self, db: Any, identifier: Mapping[str, Any]) -> dict[str, Any] | None:
        if identifier.get("id"):
            return _get(db, "product", identifier["id"])
        if identifier.get("handle"):
            found = _find(db, "product", lambda p: p.get("handle") == identifier["handle"])
            return found[0] if found else None
        custom = identifier.get("customId")
        if isinstance(custom, Mapping):
            found = _find(db, "product", lambda p: _has_custom_id(p, custom))
            return found[0] if found else None
        return None

    def _free_handle(self, db: Any, handle: str) -> str:
        candidate, n = handle, 0
        while _find_by(db, "product", "handle", candidate):
            n += 1
            candidate = f"{handle}-{n}"
        return candidate

    # productByIdentifier ----------------------------------------------------------------

    def _product_by_identifier(
        self, op: Operation, version: str, fault: Fault | None
    ) -> dict[str, Any] | None:
        op.require_type("identifier", "ProductIdentifierInput!")
        identifier = _check_identifier(
            op.arguments.get("identifier"), "identifier", "ProductIdentifierInput!"
        )
        with self._store.transaction() as db:
            found = self._find_product(db, identifier)
        return None if found is None else _product_view(found)

    # inventoryAdjustQuantities -------------------------------------------------------------

    def _inventory_adjust(self, op: Operation, version: str, fault: Fault | None) -> dict[str, Any]:
        op.require_type("input", "InventoryAdjustQuantitiesInput!")
        adjustment = _check_adjust_input(op.arguments.get("input"))
        key = op.directives.get("idempotent", {}).get("key")
        if "idempotent" in op.directives:
            if version != "unstable" and version < IDEMPOTENT_SINCE:
                raise GraphQLError("Directive '@idempotent' is not defined", "undefinedDirective")
            if not isinstance(key, str) or not key.strip():
                raise GraphQLError(
                    "@idempotent requires a non-empty key", "argumentLiteralsIncompatible"
                )
        elif version == "unstable" or version >= IDEMPOTENT_REQUIRED_SINCE:
            raise GraphQLError(
                "The @idempotent directive is required for this mutation", "BAD_REQUEST"
            )
        ignore_key = fault is not None and fault.kind == "ignore_idempotency"
        fingerprint = json.dumps(adjustment, sort_keys=True)
        with self._store.transaction() as db:
            if key is not None and not ignore_key:
                seen = _get(db, "idempotency", key)
                if seen is not None:
                    if seen["fingerprint"] != fingerprint:
                        return _adjust_errors(
                            "IDEMPOTENCY_KEY_PARAMETER_MISMATCH",
                            ["input"],
                            "The same idempotency key cannot be used with different "
                            "operation parameters.",
                        )
                    replay: dict[str, Any] = seen["answer"]
                    return replay
            answer = self._apply_adjustment(db, adjustment)
            if key is not None and answer["userErrors"] == [] and not ignore_key:
                _put(
                    db,
                    "idempotency",
                    key,
                    {"kind": "idempotency", "fingerprint": fingerprint, "answer": answer},
                )
        return answer

    def _apply_adjustment(self, db: Any, adjustment: Mapping[str, Any]) -> dict[str, Any]:
        name = adjustment["name"]
        if adjustment["reason"] not in REASONS:
            return _adjust_errors(
                "INVALID_REASON", ["input", "reason"], "The specified reason is invalid."
            )
        if name not in QUANTITY_NAMES:
            return _adjust_errors(
                "INVALID_QUANTITY_NAME",
                ["input", "name"],
                "The specified quantity name is invalid.",
            )
        changes_out: list[dict[str, Any]] = []
        levels: dict[str, dict[str, Any]] = {}
        for i, change in enumerate(adjustment["changes"]):
            where = ["input", "changes", str(i)]
            if not re.fullmatch(r"gid://shopify/InventoryItem/\d+", change["inventoryItemId"]):
                return _adjust_errors(
                    "INVALID_INVENTORY_ITEM",
                    [*where, "inventoryItemId"],
                    "The specified inventory item could not be found.",
                )
            if not re.fullmatch(r"gid://shopify/Location/\d+", change["locationId"]):
                return _adjust_errors(
                    "INVALID_LOCATION",
                    [*where, "locationId"],
                    "The specified location could not be found.",
                )
            ledger = change.get("ledgerDocumentUri")
            if name == "available" and ledger is not None:
                return _adjust_errors(
                    "INVALID_AVAILABLE_DOCUMENT",
                    [*where, "ledgerDocumentUri"],
                    "A ledger document URI is not allowed when adjusting available.",
                )
            if name != "available" and ledger is None:
                return _adjust_errors(
                    "INVALID_QUANTITY_DOCUMENT",
                    [*where, "ledgerDocumentUri"],
                    "A ledger document URI is required except when adjusting available.",
                )
            level_id = f"{change['inventoryItemId']}|{change['locationId']}"
            level = (
                levels.get(level_id)
                or _get(db, "level", level_id)
                or {
                    "kind": "level",
                    "item": change["inventoryItemId"],
                    "location": change["locationId"],
                    "quantities": {},
                }
            )
            quantities = level["quantities"]
            current = int(quantities.get(name, 0))
            expected = change.get("changeFromQuantity")
            if expected is not None and expected != current:
                return _adjust_errors(
                    "CHANGE_FROM_QUANTITY_STALE",
                    [*where, "changeFromQuantity"],
                    "The changeFromQuantity argument no longer matches the persisted quantity.",
                )
            quantities[name] = current + int(change["delta"])
            changes_out.append(_change_view(name, change, quantities[name]))
            if name in ON_HAND_PARTS:
                quantities["on_hand"] = int(quantities.get("on_hand", 0)) + int(change["delta"])
                changes_out.append(_change_view("on_hand", change, quantities["on_hand"]))
            levels[level_id] = level
        for level_id, level in levels.items():
            _put(db, "level", level_id, level)
        group = {
            "kind": "adjustment_group",
            "id": f"gid://shopify/InventoryAdjustmentGroup/{_next(db, 'adjustment_group')}",
            "createdAt": _now(),
            "reason": adjustment["reason"],
            "referenceDocumentUri": adjustment.get("referenceDocumentUri"),
            "changes": changes_out,
        }
        _put(db, "adjustment_group", group["id"], group)
        view = {k: v for k, v in group.items() if k != "kind"}
        return {"inventoryAdjustmentGroup": view, "userErrors": []}

    # -- control (/_control/shopify/<action>) ---------------------------------------------

    def control(self, request: FakeRequest, action: str) -> FakeResponse:
        """``GET levels``: every inventory level with its quantities (ground truth
        for tests); ``POST level`` ``{"inventoryItemId", "locationId", "name",
        "quantity"}``: stock a level (a demo's starting inventory)."""
        if action == "levels" and request.method == "GET":
            levels = self._store.all(NAME, "level")
            return json_response(200, {"levels": levels})
        if action == "level" and request.method == "POST":
            try:
                body = request.json()
            except ValueError:
                body = None
            if (
                not isinstance(body, dict)
                or not all(isinstance(body.get(k), str) for k in ("inventoryItemId", "locationId"))
                or body.get("name") not in QUANTITY_NAMES | {"on_hand"}
                or isinstance(body.get("quantity"), bool)
                or not isinstance(body.get("quantity"), int)
            ):
                return json_response(
                    400,
                    {"error": {"message": "need inventoryItemId, locationId, name, quantity"}},
                )
            level_id = f"{body['inventoryItemId']}|{body['locationId']}"
            with self._store.transaction() as db:
                level = _get(db, "level", level_id) or {
                    "kind": "level",
                    "item": body["inventoryItemId"],
                    "location": body["locationId"],
                    "quantities": {},
                }
                level["quantities"][body["name"]] = body["quantity"]
                _put(db, "level", level_id, level)
            return json_response(200, level)
        return json_response(404, {"error": {"message": f"unknown shopify control {action!r}"}})

    # metafieldsSet -------------------------------------------------------------------------

    def _metafields_set(self, op: Operation, version: str, fault: Fault | None) -> dict[str, Any]:
        op.require_type("metafields", "[MetafieldsSetInput!]!")
        entries = op.arguments.get("metafields")
        if not isinstance(entries, list):
            raise _invalid("metafields", "[MetafieldsSetInput!]!", entries, [], "Expected a list")
        for i, entry in enumerate(entries):
            if not isinstance(entry, dict):
                raise _invalid(
                    "metafields", "[MetafieldsSetInput!]!", entry, [i], "Expected an object"
                )
            for field in entry:
                if field not in METAFIELD_FIELDS:
                    raise _invalid(
                        "metafields",
                        "[MetafieldsSetInput!]!",
                        entry,
                        [i, field],
                        "Field is not defined on MetafieldsSetInput",
                    )
            for field in ("ownerId", "key", "value"):
                if not isinstance(entry.get(field), str):
                    raise _invalid(
                        "metafields",
                        "[MetafieldsSetInput!]!",
                        entry,
                        [i, field],
                        "Expected value to not be null",
                    )
        if len(entries) > 25:
            return _metafield_error(
                "LESS_THAN_OR_EQUAL_TO", None, ["metafields"], "Exceeded the limit of 25."
            )
        out = []
        with self._store.transaction() as db:
            for i, entry in enumerate(entries):
                owner = entry["ownerId"]
                if owner.startswith("gid://shopify/Product/") and not _get(db, "product", owner):
                    field = ["metafields", str(i), "ownerId"]
                    return _metafield_error("INVALID_VALUE", i, field, "Owner does not exist.")
                if not entry.get("type"):
                    field = ["metafields", str(i), "type"]
                    return _metafield_error("BLANK", i, field, "Type can't be blank")
            for entry in entries:
                slot = f"{entry['ownerId']}|{entry.get('namespace') or '$app'}|{entry['key']}"
                current = _find_by(db, "metafield", "slot", slot)
                metafield: dict[str, Any] = (
                    current[0]
                    if current
                    else {
                        "kind": "metafield",
                        "id": f"gid://shopify/Metafield/{_next(db, 'metafield')}",
                        "slot": slot,
                        "writes": 0,
                    }
                )
                metafield.update(
                    {
                        "ownerType": entry["ownerId"].split("/")[3].upper(),
                        "ownerId": entry["ownerId"],
                        "namespace": entry.get("namespace") or "$app",
                        "key": entry["key"],
                        "type": entry["type"],
                        "value": entry["value"],
                        "writes": int(metafield["writes"]) + 1,
                    }
                )
                _put(db, "metafield", metafield["id"], metafield)
                out.append(
                    {
                        k: metafield[k]
                        for k in ("id", "ownerType", "namespace", "key", "type", "value")
                    }
                )
        return {"metafields": out, "userErrors": []}


# -- input shape checks (INVALID_VARIABLE, like Shopify's schema validation) -------------


def _check_product_input(value: Any) -> dict[str, Any]:
    type_ = "ProductSetInput!"
    if not isinstance(value, dict):
        raise _invalid("input", type_, value, [], "Expected an object")
    for field in value:
        if field not in PRODUCT_SET_FIELDS:
            raise _invalid(
                "input", type_, value, [field], "Field is not defined on ProductSetInput"
            )
    for field in ("title", "descriptionHtml", "vendor", "productType", "handle"):
        if field in value and not isinstance(value[field], str):
            raise _invalid("input", type_, value, [field], "Could not coerce value to String")
    if "status" in value and value["status"] not in PRODUCT_STATUSES:
        raise _invalid(
            "input", type_, value, ["status"],
            f"Expected \"{value['status']}\" to be one of: {', '.join(sorted(PRODUCT_STATUSES))}",
        )  # fmt: skip
    if "tags" in value and not (
        isinstance(value["tags"], list) and all(isinstance(t, str) for t in value["tags"])
    ):
        raise _invalid("input", type_, value, ["tags"], "Expected a list of String")
    for i, option in enumerate(value.get("productOptions") or []):
        if not isinstance(option, dict) or not isinstance(option.get("name"), str):
            raise _invalid("input", type_, value, ["productOptions", i, "name"], "Expected String")
        for j, entry in enumerate(option.get("values") or []):
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                raise _invalid(
                    "input",
                    type_,
                    value,
                    ["productOptions", i, "values", j, "name"],
                    "Expected String",
                )
    for i, variant in enumerate(value.get("variants") or []):
        if not isinstance(variant, dict):
            raise _invalid("input", type_, value, ["variants", i], "Expected an object")
        for field in variant:
            if field not in VARIANT_FIELDS:
                raise _invalid(
                    "input", type_, value, ["variants", i, field],
                    "Field is not defined on ProductVariantSetInput",
                )  # fmt: skip
        for field in ("price", "compareAtPrice"):
            if field in variant and not (
                isinstance(variant[field], str) and MONEY.fullmatch(variant[field])
            ):
                raise _invalid(
                    "input", type_, value, ["variants", i, field],
                    "Could not coerce value to Money (a decimal string)",
                )  # fmt: skip
        if "inventoryPolicy" in variant and variant["inventoryPolicy"] not in INVENTORY_POLICIES:
            raise _invalid(
                "input",
                type_,
                value,
                ["variants", i, "inventoryPolicy"],
                "Expected CONTINUE or DENY",
            )
        options = variant.get("optionValues")
        if not isinstance(options, list) or not all(
            isinstance(o, dict) and isinstance(o.get("name"), str) for o in options
        ):
            raise _invalid(
                "input",
                type_,
                value,
                ["variants", i, "optionValues"],
                "Expected a list of VariantOptionValueInput",
            )
    return value


def _check_identifier(value: Any, name: str, type_: str) -> dict[str, Any]:
    if not isinstance(value, dict) or len(value) != 1:
        raise _invalid(name, type_, value, [], "Exactly one of id, handle, customId is required")
    ((field, given),) = value.items()
    if field in ("id", "handle"):
        if not isinstance(given, str) or not given:
            raise _invalid(name, type_, value, [field], "Could not coerce value to String")
        return value
    if field == "customId":
        if (
            not isinstance(given, dict)
            or set(given) - {"namespace", "key", "value"}
            or not all(isinstance(given.get(k), str) for k in ("key", "value"))
        ):
            raise _invalid(name, type_, value, [field], "Expected UniqueMetafieldValueInput")
        return value
    raise _invalid(name, type_, value, [field], f"Field is not defined on {type_.rstrip('!')}")


def _product_user_errors(value: Mapping[str, Any]) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = []
    if not str(value.get("title", "")).strip():
        errors.append(
            {"code": "BLANK", "field": ["input", "title"], "message": "Title can't be blank"}
        )
    handle = value.get("handle")
    if handle is not None and not HANDLE.fullmatch(handle):
        errors.append(
            {"code": "INVALID", "field": ["input", "handle"], "message": "Handle is invalid"}
        )
    options = {
        o["name"]: {v["name"] for v in o.get("values", [])}
        for o in value.get("productOptions") or []
    }
    for i, variant in enumerate(value.get("variants") or []):
        for entry in variant["optionValues"]:
            name = entry.get("optionName")
            if name not in options or entry["name"] not in options[name]:
                errors.append(
                    {
                        "code": "OPTION_VALUE_DOES_NOT_EXIST",
                        "field": ["input", "variants", str(i), "optionValues"],
                        "message": f"Option value '{entry['name']}' does not exist",
                    }
                )
        if variant.get("price") and variant["price"].startswith("-"):
            errors.append(
                {"code": "INVALID_VARIANT", "field": ["input", "variants", str(i), "price"],
                 "message": "Price must be greater than or equal to 0"}
            )  # fmt: skip
    return errors


def _check_adjust_input(value: Any) -> dict[str, Any]:
    type_ = "InventoryAdjustQuantitiesInput!"
    if not isinstance(value, dict):
        raise _invalid("input", type_, value, [], "Expected an object")
    for field in value:
        if field not in ADJUST_FIELDS:
            raise _invalid(
                "input",
                type_,
                value,
                [field],
                "Field is not defined on InventoryAdjustQuantitiesInput",
            )
    for field in ("reason", "name"):
        if not isinstance(value.get(field), str):
            raise _invalid("input", type_, value, [field], "Expected value to not be null")
    changes = value.get("changes")
    if not isinstance(changes, list):
        raise _invalid("input", type_, value, ["changes"], "Expected value to not be null")
    for i, change in enumerate(changes):
        if not isinstance(change, dict):
            raise _invalid("input", type_, value, ["changes", i], "Expected an object")
        for field in change:
            if field not in CHANGE_FIELDS:
                raise _invalid(
                    "input",
                    type_,
                    value,
                    ["changes", i, field],
                    "Field is not defined on InventoryChangeInput",
                )
        delta = change.get("delta")
        if isinstance(delta, bool) or not isinstance(delta, int):
            raise _invalid(
                "input", type_, value, ["changes", i, "delta"], "Could not coerce value to Int"
            )
        for field in ("inventoryItemId", "locationId"):
            if not isinstance(change.get(field), str):
                raise _invalid(
                    "input", type_, value, ["changes", i, field], "Expected value to not be null"
                )
        expected = change.get("changeFromQuantity")
        if expected is not None and (isinstance(expected, bool) or not isinstance(expected, int)):
            raise _invalid(
                "input",
                type_,
                value,
                ["changes", i, "changeFromQuantity"],
                "Could not coerce value to Int",
            )
    return value


# -- views and store helpers (inside one store transaction) -------------------------------


def _product_view(product: Mapping[str, Any]) -> dict[str, Any]:
    return {k: product.get(k) for k in ("id", "handle", "title", "status", "updatedAt")}


def _change_view(name: str, change: Mapping[str, Any], after: int) -> dict[str, Any]:
    return {
        "name": name,
        "delta": change["delta"],
        "quantityAfterChange": after,
        "item": {"id": change["inventoryItemId"]},
        "location": {"id": change["locationId"]},
    }


def _adjust_errors(code: str, field: list[str], message: str) -> dict[str, Any]:
    return {
        "inventoryAdjustmentGroup": None,
        "userErrors": [{"code": code, "field": field, "message": message}],
    }


def _has_custom_id(product: Mapping[str, Any], custom: Mapping[str, Any]) -> bool:
    return any(
        m.get("type") == "id"
        and m.get("namespace", "custom") == custom.get("namespace", "custom")
        and m.get("key") == custom.get("key")
        and m.get("value") == custom.get("value")
        for m in product.get("metafields") or []
    )


def _slug(title: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    return slug or "product"


def _next(db: Any, name: str) -> int:
    counter = f"{NAME}:{name}"
    row = db.execute("SELECT value FROM counters WHERE name = ?", (counter,)).fetchone()
    value = (row[0] if row else 1000) + 1
    db.execute(
        "INSERT INTO counters (name, value) VALUES (?, ?) "
        "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        (counter, value),
    )
    return int(value)


def _find_by(db: Any, kind: str, field: str, value: Any) -> list[dict[str, Any]]:
    return _find(db, kind, lambda o: o.get(field) == value)


def _metafield_error(
    code: str, index: int | None, field: list[str], message: str
) -> dict[str, Any]:
    return {
        "metafields": [],
        "userErrors": [{"code": code, "elementIndex": index, "field": field, "message": message}],
    }


def _get(db: Any, kind: str, object_id: str) -> dict[str, Any] | None:
    row = db.execute(
        "SELECT data FROM objects WHERE provider = ? AND kind = ? AND id = ?",
        (NAME, kind, object_id),
    ).fetchone()
    return None if row is None else dict(json.loads(row[0]))


def _find(db: Any, kind: str, where: Any) -> list[dict[str, Any]]:
    rows = db.execute(
        "SELECT data FROM objects WHERE provider = ? AND kind = ? ORDER BY seq", (NAME, kind)
    ).fetchall()
    return [o for o in (dict(json.loads(r[0])) for r in rows) if where(o)]


def _put(db: Any, kind: str, object_id: str, data: Mapping[str, Any]) -> None:
    text = json.dumps(data, separators=(",", ":"), sort_keys=True)
    updated = db.execute(
        "UPDATE objects SET data = ? WHERE provider = ? AND kind = ? AND id = ?",
        (text, NAME, kind, object_id),
    ).rowcount
    if not updated:
        seq = db.execute("SELECT coalesce(max(seq), 0) + 1 FROM objects").fetchone()[0]
        db.execute(
            "INSERT INTO objects (provider, kind, id, seq, data) VALUES (?, ?, ?, ?, ?)",
            (NAME, kind, object_id, seq, text),
        )


def build(store: FakeStore) -> ShopifyFake:
    """The factory the fakes registry lists."""
    return ShopifyFake(store)
