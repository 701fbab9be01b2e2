"""The ``listing.create`` payload: validated into the exact form fields, images
and publish flag the adapter sends (pure: no I/O, no secrets).

Payload fields (anything else is refused, naming the field)::

    shop_id               int, required: the shop the listing goes in (it is in
                          every URL, so the render needs it; the account names
                          the credential only)
    title                 <= 140 characters; % : & + at most once each
    description           text; the adapter appends its lookup marker while draft
    price                 decimal string, > 0, at most 2 decimals ("24.00")
    quantity              int 1..999
    who_made, when_made   enums pinned in ``wire``
    taxonomy_id           int
    type                  physical|download|both (default physical)
    shipping_profile_id   int; required when type is physical
    return_policy_id, readiness_state_id                int, optional
    tags, materials, styles                             lists (limits in ``wire``)
    is_supply, is_customizable, should_auto_renew, is_taxable   bool, optional
    item_weight, item_length, item_width, item_height   decimal strings, optional
    item_weight_unit, item_dimensions_unit              enums, with their values
    images                list of media references ({path, size, sha256,
                          content_type} plus an optional alt_text), <= 20
    publish               bool, default false: set state=active after the images
                          (needs at least one image)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

from autopack.domain.canonical import canonical_hash
from autopack.providers._media import MediaRef, parse_media_ref
from autopack.providers._payload import PayloadReader
from autopack.providers.etsy import wire

PROVIDER = "etsy"
ACTION = "listing.create"
MARKER_PREFIX = "autopack-ref:"
MARKER_HEX = 24
_DECIMAL = re.compile(r"(0|[1-9][0-9]{0,8})(\.[0-9]{1,2})?")
# Etsy tags: letters, digits, spaces, - ' and the three marks.
_TAG = re.compile(r"[\w \-'\u2122\u00a9\u00ae]+")

REQUIRED_FIELDS = (
    "shop_id",
    "title",
    "description",
    "price",
    "quantity",
    "who_made",
    "when_made",
    "taxonomy_id",
)
OPTIONAL_INTS = ("shipping_profile_id", "return_policy_id", "readiness_state_id")
OPTIONAL_BOOLS = ("is_supply", "is_customizable", "should_auto_renew", "is_taxable")
DIMENSIONS = ("item_weight", "item_length", "item_width", "item_height")
ALLOWED_FIELDS = frozenset(
    {
        *REQUIRED_FIELDS,
        *OPTIONAL_INTS,
        *OPTIONAL_BOOLS,
        *DIMENSIONS,
        "type",
        "tags",
        "materials",
        "styles",
        "item_weight_unit",
        "item_dimensions_unit",
        "images",
        "publish",
    }
)


@dataclass(frozen=True, slots=True)
class ListingImage:
    media: MediaRef
    alt_text: str

    def filename(self) -> str:
        """The part's file name: the path's last segment, safe for a header."""
        name = self.media.path.rsplit("/", 1)[-1]
        return "".join(c if c.isalnum() or c in "._-" else "_" for c in name) or "image"


@dataclass(frozen=True, slots=True)
class ListingDraft:
    """What ``listing.create`` sends: form fields in wire order."""

    shop_id: int
    fields: tuple[tuple[str, str], ...]
    description: str
    images: tuple[ListingImage, ...]
    publish: bool


def lookup_marker(provider: str, account: str, idempotency_key: str) -> str:
    """The token put in a draft's description: stable for one action, so a
    re-render finds the draft a lost answer created."""
    digest = canonical_hash(
        {"provider": provider, "account": account, "idempotency_key": idempotency_key}
    )
    return MARKER_PREFIX + digest[:MARKER_HEX]


def description_with_marker(description: str, marker: str) -> str:
    return f"{description}\n\n[{marker}]"


def form_body(fields: tuple[tuple[str, str], ...]) -> str:
    """``application/x-www-form-urlencoded`` bytes as text, byte for byte: UTF-8,
    percent-encoded, space as ``+``, in the given order."""
    return "&".join(f"{_form_quote(name)}={_form_quote(value)}" for name, value in fields)


def _form_quote(text: str) -> str:
    return quote(text, safe="", encoding="utf-8").replace("%20", "+")


def parse_listing(payload: Mapping[str, Any], marker: str) -> ListingDraft:
    """Validate ``payload``; every refusal names the field (``ProviderPayloadError``)."""
    reader = PayloadReader(PROVIDER, ACTION, payload)
    reader.only(ALLOWED_FIELDS)
    shop_id = reader.integer("shop_id", minimum=1)
    title = _title(reader)
    description = reader.text("description")
    if MARKER_PREFIX in description:
        raise reader.error("description", f"must not hold {MARKER_PREFIX!r}: the adapter sets it")
    price = _decimal(reader, "price", required=True)
    if Decimal(price) <= 0:
        raise reader.error("price", "must be greater than 0")
    quantity = reader.integer("quantity", minimum=1, maximum=wire.QUANTITY_MAX)
    who_made = reader.choice("who_made", wire.WHO_MADE)
    when_made = reader.choice("when_made", wire.WHEN_MADE)
    taxonomy_id = reader.integer("taxonomy_id", minimum=1)
    listing_type = reader.choice("type", wire.LISTING_TYPES, required=False) or "physical"
    fields: list[tuple[str, str]] = [
        ("quantity", str(quantity)),
        ("title", title),
        ("description", description_with_marker(description, marker)),
        ("price", price),
        ("who_made", who_made),
        ("when_made", when_made),
        ("taxonomy_id", str(taxonomy_id)),
        ("type", listing_type),
    ]
    for name in OPTIONAL_INTS:
        if reader.has(name):
            fields.append((name, str(reader.integer(name, minimum=1))))
    if listing_type == "physical" and not reader.has("shipping_profile_id"):
        raise reader.error("shipping_profile_id", "is required when type is physical")
    for name, limit, chars in (
        ("tags", wire.TAGS_MAX, wire.TAG_MAX_CHARS),
        ("materials", wire.MATERIALS_MAX, wire.MATERIAL_MAX_CHARS),
        ("styles", wire.STYLES_MAX, wire.STYLE_MAX_CHARS),
    ):
        values = reader.text_list(name, max_items=limit, max_chars=chars)
        if any(wire.ARRAY_SEPARATOR in v for v in values):
            # The wire joins a list with commas: a comma would split an item.
            raise reader.error(name, "items must not contain a comma")
        if name == "tags" and not all(_TAG.fullmatch(v) for v in values):
            raise reader.error(name, "items may hold only letters, digits, spaces, - and '")
        if values:
            fields.append((name, wire.ARRAY_SEPARATOR.join(values)))
    for name in OPTIONAL_BOOLS:
        if reader.has(name):
            fields.append((name, "true" if reader.boolean(name) else "false"))
    fields.extend(_dimensions(reader))
    images = _images(reader)
    publish = reader.boolean("publish") if reader.has("publish") else False
    if publish and not images:
        # Etsy: setting a draft active "requires that the listing have an image set".
        raise reader.error("images", "must hold at least one image when publish is true")
    return ListingDraft(shop_id, tuple(fields), description, images, publish)


def _title(reader: PayloadReader) -> str:
    title = reader.text("title", max_chars=wire.TITLE_MAX_CHARS)
    repeated = [c for c in wire.TITLE_ONCE_CHARACTERS if title.count(c) > 1]
    if repeated:
        raise reader.error("title", f"may hold each of % : & + at most once: {' '.join(repeated)}")
    return title


def _decimal(reader: PayloadReader, field: str, *, required: bool) -> str:
    value = reader.payload.get(field)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not _DECIMAL.fullmatch(value):
        raise reader.error(
            field,
            f"must be a decimal string with at most {wire.PRICE_MAX_DECIMALS} decimals, "
            'e.g. "24.00" (no float: it would not render exactly)',
        )
    try:
        Decimal(value)
    except InvalidOperation as exc:  # pragma: no cover - the pattern admits only decimals
        raise reader.error(field, "is not a decimal") from exc
    return value


def _dimensions(reader: PayloadReader) -> list[tuple[str, str]]:
    fields: list[tuple[str, str]] = []
    for name in DIMENSIONS:
        if reader.has(name):
            fields.append((name, _decimal(reader, name, required=True)))
    has_weight = reader.has("item_weight")
    has_size = any(reader.has(n) for n in DIMENSIONS[1:])
    for unit, needed, allowed in (
        ("item_weight_unit", has_weight, wire.WEIGHT_UNITS),
        ("item_dimensions_unit", has_size, wire.DIMENSION_UNITS),
    ):
        if reader.has(unit) or needed:
            if not needed:
                raise reader.error(unit, "is given without the values it measures")
            fields.append((unit, reader.choice(unit, allowed)))
    return fields


def _images(reader: PayloadReader) -> tuple[ListingImage, ...]:
    value = reader.payload.get("images")
    if value is None:
        return ()
    if not isinstance(value, list):
        raise reader.error("images", "must be a list of media references")
    if len(value) > wire.IMAGES_MAX:
        raise reader.error("images", f"has {len(value)} items; the limit is {wire.IMAGES_MAX}")
    images: list[ListingImage] = []
    for index, item in enumerate(value):
        field = f"images[{index}]"
        if not isinstance(item, Mapping):
            raise reader.error(field, "must be an object with path, size, sha256, content_type")
        alt_text = item.get("alt_text", "")
        if not isinstance(alt_text, str) or len(alt_text) > wire.ALT_TEXT_MAX_CHARS:
            raise reader.error(
                f"{field}.alt_text", f"must be a string of <= {wire.ALT_TEXT_MAX_CHARS} characters"
            )
        media = parse_media_ref({k: v for k, v in item.items() if k != "alt_text"}, field)
        if media.content_type not in wire.IMAGE_CONTENT_TYPES:
            raise reader.error(
                f"{field}.content_type", f"must be one of {', '.join(wire.IMAGE_CONTENT_TYPES)}"
            )
        images.append(ListingImage(media, alt_text))
    return tuple(images)
