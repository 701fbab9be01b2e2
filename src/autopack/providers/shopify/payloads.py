"""Shopify payloads -> GraphQL variables: validation that names the field.

Every refusal is a :class:`~autopack.providers._payload.ProviderPayloadError`
(``invalid_provider_payload``): an agent learns what to fix before anything is
recorded. Prices are decimal strings (never floats: Shopify's ``Money`` scalar
is a decimal string, and a float is not exact); lists are replaced wholesale by
``productSet`` (entries left out are deleted), so the payload states them whole.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from autopack.domain.canonical import JsonValue, canonical_hash
from autopack.domain.providers import Intent
from autopack.providers._payload import PayloadReader, refuse

PROVIDER: Final = "shopify"

# A shop's myshopify.com subdomain: the account name of a Shopify credential.
SHOP_NAME: Final = re.compile(r"^[a-z0-9][a-z0-9-]{0,59}$")
HANDLE: Final = re.compile(r"^[a-z0-9][a-z0-9-]{0,254}$")
# Metafield namespace (an app-reserved one starts with "$app") and key.
NAMESPACE: Final = re.compile(r"^(\$app:?)?[A-Za-z0-9_-]{2,255}$")
METAFIELD_KEY: Final = re.compile(r"^[A-Za-z0-9_-]{2,64}$")
# Decimal string, at most 4 decimals (Money); no exponent, no sign.
DECIMAL: Final = re.compile(r"^(0|[1-9][0-9]{0,14})(\.[0-9]{1,4})?$")
DERIVED_HANDLE_PREFIX: Final = "autopack-"
DERIVED_HANDLE_HEX: Final = 24

PRODUCT_STATUSES: Final = ("ACTIVE", "ARCHIVED", "DRAFT")
INVENTORY_POLICIES: Final = ("CONTINUE", "DENY")
MAX_TITLE: Final = 255
MAX_DESCRIPTION: Final = 512 * 1024
MAX_TAGS: Final = 250
MAX_OPTIONS: Final = 3
MAX_OPTION_VALUES: Final = 100
MAX_VARIANTS: Final = 2048

# InventoryAdjustQuantitiesInput.reason and .name (Shopify's documented lists).
INVENTORY_REASONS: Final = (
    "correction",
    "cycle_count_available",
    "damaged",
    "movement_canceled",
    "movement_created",
    "movement_received",
    "movement_updated",
    "other",
    "promotion",
    "quality_control",
    "received",
    "reservation_created",
    "reservation_deleted",
    "reservation_updated",
    "restock",
    "safety_stock",
    "shrinkage",
)
QUANTITY_NAMES: Final = (
    "available",
    "damaged",
    "incoming",
    "quality_control",
    "reserved",
    "safety_stock",
)
MAX_CHANGES: Final = 250
MAX_DELTA: Final = 2_000_000_000
MAX_METAFIELDS: Final = 25
MAX_METAFIELD_VALUE: Final = 64 * 1024


@dataclass(frozen=True, slots=True)
class ProductIdentifier:
    """How ``productSet`` and ``productByIdentifier`` find the product."""

    # {"handle": ...} or {"customId": {"namespace", "key", "value"}}
    variables: dict[str, JsonValue]
    # What the provider sees as our idempotency key (shown in the render).
    key: str


def validate_shop(account: str, action: str) -> str:
    """The account is the shop's myshopify.com subdomain (``my-shop``)."""
    if not isinstance(account, str) or not SHOP_NAME.fullmatch(account):
        raise refuse(
            PROVIDER,
            action,
            "account",
            "must be the shop's myshopify.com subdomain (lower-case letters, digits, "
            "hyphens; e.g. my-shop for my-shop.myshopify.com)",
        )
    return account


def derived_handle(intent: Intent) -> str:
    """A handle stable for (provider, account, idempotency key): a resend finds it."""
    digest = canonical_hash(
        {
            "provider": intent.provider,
            "account": intent.account,
            "idempotency_key": intent.idempotency_key,
        }
    )
    return DERIVED_HANDLE_PREFIX + digest[:DERIVED_HANDLE_HEX]


def idempotent_key(intent: Intent) -> str:
    """The ``@idempotent(key:)`` value: a UUID-shaped digest of our idempotency key
    (stable across re-renders and restarts; distinct per provider, account, action)."""
    digest = canonical_hash(
        {
            "provider": intent.provider,
            "account": intent.account,
            "action": intent.action,
            "idempotency_key": intent.idempotency_key,
        }
    )
    return str(uuid.UUID(hex=digest[:32], version=5))


# -- product.upsert ----------------------------------------------------------------

PRODUCT_FIELDS: Final = (
    "title",
    "descriptionHtml",
    "vendor",
    "productType",
    "tags",
    "status",
    "handle",
    "customId",
    "productOptions",
    "variants",
)


def product_variables(intent: Intent) -> tuple[dict[str, JsonValue], ProductIdentifier]:
    """``{"input": ProductSetInput, "identifier": ProductSetIdentifiers}``."""
    read = PayloadReader(PROVIDER, intent.action, intent.payload)
    read.only(PRODUCT_FIELDS)
    product: dict[str, JsonValue] = {"title": read.text("title", max_chars=MAX_TITLE)}
    if read.has("descriptionHtml"):
        product["descriptionHtml"] = read.text("descriptionHtml", max_chars=MAX_DESCRIPTION)
    for name in ("vendor", "productType"):
        if read.has(name):
            product[name] = read.text(name, max_chars=MAX_TITLE)
    if read.has("tags"):
        tags = read.text_list("tags", max_items=MAX_TAGS, max_chars=MAX_TITLE)
        product["tags"] = list(tags)
    # Required: whether buyers see the product is for the approver to read, not a default.
    product["status"] = read.choice("status", PRODUCT_STATUSES)
    handle = None
    if read.has("handle"):
        handle = read.text("handle", max_chars=255)
        if not HANDLE.fullmatch(handle):
            raise read.error("handle", "must be lower-case letters, digits and hyphens")
    custom = _custom_id(read) if read.has("customId") else None
    options = _options(read)
    if options:
        product["productOptions"] = [
            {"name": name, "values": [{"name": v} for v in values]} for name, values in options
        ]
    if read.has("variants"):
        product["variants"] = _variants(read, options)
    if custom is not None:
        # The product must carry the id metafield the identifier names, so that
        # productByIdentifier finds what productSet created.
        product["metafields"] = [{**custom, "type": "id"}]
        identifier = ProductIdentifier(
            {"customId": dict(custom)},
            f"customId:{custom['namespace']}.{custom['key']}={custom['value']}",
        )
        if handle is not None:
            product["handle"] = handle
    else:
        chosen = handle if handle is not None else derived_handle(intent)
        product["handle"] = chosen
        identifier = ProductIdentifier({"handle": chosen}, f"handle:{chosen}")
    return {"input": product, "identifier": identifier.variables}, identifier


def _custom_id(read: PayloadReader) -> dict[str, JsonValue]:
    value = read.payload["customId"]
    if not isinstance(value, Mapping) or set(value) != {"namespace", "key", "value"}:
        raise read.error("customId", "must be an object with namespace, key and value")
    namespace, key, text = value["namespace"], value["key"], value["value"]
    if not isinstance(namespace, str) or not NAMESPACE.fullmatch(namespace):
        raise read.error("customId.namespace", "must be 2-255 letters, digits, _ or -")
    if not isinstance(key, str) or not METAFIELD_KEY.fullmatch(key):
        raise read.error("customId.key", "must be 2-64 letters, digits, _ or -")
    if not isinstance(text, str) or not text.strip() or len(text) > 255:
        raise read.error("customId.value", "must be a non-empty string of at most 255")
    return {"namespace": namespace, "key": key, "value": text}


def _options(read: PayloadReader) -> list[tuple[str, list[str]]]:
    raw = read.payload.get("productOptions")
    if raw is None:
        return []
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_OPTIONS:
        raise read.error("productOptions", f"must be a list of 1 to {MAX_OPTIONS} options")
    options: list[tuple[str, list[str]]] = []
    for i, option in enumerate(raw):
        where = f"productOptions[{i}]"
        if not isinstance(option, Mapping) or set(option) != {"name", "values"}:
            raise read.error(where, "must be an object with name and values")
        name, values = option["name"], option["values"]
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_TITLE:
            raise read.error(f"{where}.name", "must be a non-empty string")
        if not isinstance(values, list) or not 1 <= len(values) <= MAX_OPTION_VALUES:
            raise read.error(f"{where}.values", f"must list 1 to {MAX_OPTION_VALUES} values")
        names: list[str] = []
        for j, entry in enumerate(values):
            if not isinstance(entry, Mapping) or set(entry) != {"name"}:
                raise read.error(f"{where}.values[{j}]", 'must be {"name": "..."}')
            value = entry["name"]
            if not isinstance(value, str) or not value.strip() or len(value) > MAX_TITLE:
                raise read.error(f"{where}.values[{j}].name", "must be a non-empty string")
            names.append(value)
        if len(set(names)) != len(names):
            raise read.error(f"{where}.values", "has a value twice")
        options.append((name, names))
    if len({name for name, _ in options}) != len(options):
        raise read.error("productOptions", "has an option name twice")
    return options


VARIANT_FIELDS: Final = (
    "optionValues",
    "price",
    "compareAtPrice",
    "sku",
    "barcode",
    "taxable",
    "inventoryPolicy",
)


def _variants(read: PayloadReader, options: list[tuple[str, list[str]]]) -> list[JsonValue]:
    raw = read.payload["variants"]
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_VARIANTS:
        raise read.error("variants", f"must be a list of 1 to {MAX_VARIANTS} variants")
    if not options:
        raise read.error("productOptions", "is required when variants are given")
    allowed = dict(options)
    seen: set[tuple[str, ...]] = set()
    variants: list[JsonValue] = []
    for i, variant in enumerate(raw):
        where = f"variants[{i}]"
        if not isinstance(variant, Mapping):
            raise read.error(where, "must be an object")
        unknown = sorted(set(variant) - set(VARIANT_FIELDS))
        if unknown:
            raise read.error(
                f"{where}.{unknown[0]}", f"unknown; allowed: {', '.join(VARIANT_FIELDS)}"
            )
        chosen = _option_values(read, where, variant.get("optionValues"), allowed)
        combo = tuple(chosen[name] for name, _ in options)
        if combo in seen:
            raise read.error(f"{where}.optionValues", "repeats another variant's combination")
        seen.add(combo)
        out: dict[str, JsonValue] = {
            "optionValues": [{"optionName": name, "name": chosen[name]} for name, _ in options],
            "price": _decimal(read, f"{where}.price", variant.get("price")),
        }
        if variant.get("compareAtPrice") is not None:
            out["compareAtPrice"] = _decimal(
                read, f"{where}.compareAtPrice", variant["compareAtPrice"]
            )
        for name in ("sku", "barcode"):
            value = variant.get(name)
            if value is not None:
                if not isinstance(value, str) or not value.strip() or len(value) > MAX_TITLE:
                    raise read.error(f"{where}.{name}", "must be a non-empty string")
                out[name] = value
        if variant.get("taxable") is not None:
            if not isinstance(variant["taxable"], bool):
                raise read.error(f"{where}.taxable", "must be true or false")
            out["taxable"] = variant["taxable"]
        if variant.get("inventoryPolicy") is not None:
            if variant["inventoryPolicy"] not in INVENTORY_POLICIES:
                raise read.error(
                    f"{where}.inventoryPolicy", f"must be one of {', '.join(INVENTORY_POLICIES)}"
                )
            out["inventoryPolicy"] = variant["inventoryPolicy"]
        variants.append(out)
    return variants


def _option_values(
    read: PayloadReader, where: str, raw: Any, allowed: Mapping[str, list[str]]
) -> dict[str, str]:
    field = f"{where}.optionValues"
    if not isinstance(raw, list):
        raise read.error(field, 'must be a list of {"optionName", "name"}')
    chosen: dict[str, str] = {}
    for j, entry in enumerate(raw):
        if not isinstance(entry, Mapping) or set(entry) != {"optionName", "name"}:
            raise read.error(f"{field}[{j}]", 'must be {"optionName": ..., "name": ...}')
        option, value = entry["optionName"], entry["name"]
        if option not in allowed:
            raise read.error(f"{field}[{j}].optionName", "names no option in productOptions")
        if value not in allowed[option]:
            raise read.error(f"{field}[{j}].name", f"is not a value of option {option!r}")
        if option in chosen:
            raise read.error(f"{field}[{j}].optionName", "is given twice")
        chosen[option] = value
    if set(chosen) != set(allowed):
        raise read.error(field, "must give one value for every option")
    return chosen


def _decimal(read: PayloadReader, field: str, value: Any) -> str:
    if isinstance(value, bool | int | float):
        raise read.error(field, 'must be a decimal string like "19.99", not a JSON number')
    if not isinstance(value, str) or not DECIMAL.fullmatch(value):
        raise read.error(field, 'must be a decimal string like "19.99" (at most 4 decimals)')
    return value


# -- inventory.adjust ----------------------------------------------------------------

INVENTORY_FIELDS: Final = ("reason", "name", "referenceDocumentUri", "changes")
CHANGE_FIELDS: Final = (
    "inventoryItemId",
    "locationId",
    "delta",
    "changeFromQuantity",
    "ledgerDocumentUri",
)


def inventory_variables(intent: Intent) -> dict[str, JsonValue]:
    """``{"input": InventoryAdjustQuantitiesInput, "idempotencyKey": ...}``."""
    read = PayloadReader(PROVIDER, intent.action, intent.payload)
    read.only(INVENTORY_FIELDS)
    name = read.choice("name", QUANTITY_NAMES)
    adjustment: dict[str, JsonValue] = {
        "reason": read.choice("reason", INVENTORY_REASONS),
        "name": name,
    }
    if read.has("referenceDocumentUri"):
        adjustment["referenceDocumentUri"] = _uri(
            read, "referenceDocumentUri", read.payload["referenceDocumentUri"]
        )
    raw = read.payload.get("changes")
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_CHANGES:
        raise read.error("changes", f"must be a list of 1 to {MAX_CHANGES} changes")
    changes: list[JsonValue] = []
    pairs: set[tuple[str, str]] = set()
    for i, change in enumerate(raw):
        where = f"changes[{i}]"
        if not isinstance(change, Mapping):
            raise read.error(where, "must be an object")
        unknown = sorted(set(change) - set(CHANGE_FIELDS))
        if unknown:
            raise read.error(
                f"{where}.{unknown[0]}", f"unknown; allowed: {', '.join(CHANGE_FIELDS)}"
            )
        item = _gid(
            read, f"{where}.inventoryItemId", change.get("inventoryItemId"), "InventoryItem"
        )
        location = _gid(read, f"{where}.locationId", change.get("locationId"), "Location")
        if (item, location) in pairs:
            raise read.error(where, "repeats another change's inventoryItemId and locationId")
        pairs.add((item, location))
        delta = change.get("delta")
        if isinstance(delta, bool) or not isinstance(delta, int) or delta == 0:
            raise read.error(f"{where}.delta", "must be a non-zero integer")
        if abs(delta) > MAX_DELTA:
            raise read.error(f"{where}.delta", f"must be within -{MAX_DELTA}..{MAX_DELTA}")
        # Stated, never defaulted: an integer is Shopify's compare-and-set (the
        # change applies only if the quantity is still that), null opts out.
        if "changeFromQuantity" not in change:
            raise read.error(
                f"{where}.changeFromQuantity",
                "is required: the quantity expected before the change, or null to opt out "
                "of the compare-and-set check",
            )
        expected = change["changeFromQuantity"]
        if expected is not None and (isinstance(expected, bool) or not isinstance(expected, int)):
            raise read.error(f"{where}.changeFromQuantity", "must be an integer or null")
        out: dict[str, JsonValue] = {
            "inventoryItemId": item,
            "locationId": location,
            "delta": delta,
            "changeFromQuantity": expected,
        }
        ledger = change.get("ledgerDocumentUri")
        if name == "available" and ledger is not None:
            raise read.error(f"{where}.ledgerDocumentUri", "is not allowed when name is available")
        if name != "available":
            if ledger is None:
                raise read.error(
                    f"{where}.ledgerDocumentUri", "is required unless name is available"
                )
            out["ledgerDocumentUri"] = _uri(read, f"{where}.ledgerDocumentUri", ledger)
        changes.append(out)
    adjustment["changes"] = changes
    return {"input": adjustment, "idempotencyKey": idempotent_key(intent)}


def _uri(read: PayloadReader, field: str, text: Any) -> str:
    if not isinstance(text, str) or not re.fullmatch(r"[a-z][a-z0-9+.-]*://\S{1,2000}", text):
        raise read.error(field, "must be a URI (scheme://...)")
    if text.startswith("gid://shopify/"):
        raise read.error(field, "must not be an internal gid://shopify/ document")
    return text


def _gid(read: PayloadReader, field: str, value: Any, kind: str) -> str:
    if not isinstance(value, str) or not re.fullmatch(
        rf"gid://shopify/{kind}/[1-9][0-9]{{0,19}}", value
    ):
        raise read.error(field, f"must be a gid://shopify/{kind}/<number> id")
    return value


# -- metafields.set ----------------------------------------------------------------

METAFIELD_FIELDS: Final = ("ownerId", "namespace", "key", "type", "value")
OWNER_GID: Final = re.compile(r"^gid://shopify/[A-Za-z]{2,64}/[1-9][0-9]{0,19}$")
METAFIELD_TYPE: Final = re.compile(r"^(list\.)?[a-z_]{2,64}$")


def metafields_variables(intent: Intent) -> dict[str, JsonValue]:
    """``{"metafields": [MetafieldsSetInput, ...]}``."""
    read = PayloadReader(PROVIDER, intent.action, intent.payload)
    read.only(("metafields",))
    raw = read.payload.get("metafields")
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_METAFIELDS:
        raise read.error("metafields", f"must be a list of 1 to {MAX_METAFIELDS} metafields")
    out: list[JsonValue] = []
    seen: set[tuple[str, str, str]] = set()
    for i, entry in enumerate(raw):
        where = f"metafields[{i}]"
        if not isinstance(entry, Mapping):
            raise read.error(where, "must be an object")
        if set(entry) != set(METAFIELD_FIELDS):
            raise read.error(where, f"must have exactly {', '.join(METAFIELD_FIELDS)}")
        owner, namespace, key = entry["ownerId"], entry["namespace"], entry["key"]
        kind, value = entry["type"], entry["value"]
        if not isinstance(owner, str) or not OWNER_GID.fullmatch(owner):
            raise read.error(f"{where}.ownerId", "must be a gid://shopify/<Type>/<number> id")
        if not isinstance(namespace, str) or not NAMESPACE.fullmatch(namespace):
            raise read.error(f"{where}.namespace", "must be 2-255 letters, digits, _ or -")
        if not isinstance(key, str) or not METAFIELD_KEY.fullmatch(key):
            raise read.error(f"{where}.key", "must be 2-64 letters, digits, _ or -")
        if not isinstance(kind, str) or not METAFIELD_TYPE.fullmatch(kind):
            raise read.error(
                f"{where}.type", "must be a metafield type such as single_line_text_field"
            )
        if not isinstance(value, str) or len(value) > MAX_METAFIELD_VALUE:
            raise read.error(
                f"{where}.value",
                f"must be a string (JSON types as text) of at most {MAX_METAFIELD_VALUE}",
            )
        if (owner, namespace, key) in seen:
            raise read.error(where, "sets the same ownerId, namespace and key twice")
        seen.add((owner, namespace, key))
        out.append(
            {"ownerId": owner, "namespace": namespace, "key": key, "type": kind, "value": value}
        )
    return {"metafields": out}
