"""Contract: the Etsy wire facts the adapter pins (``providers/etsy/wire.py``)
against the provider facts file (Etsy has no official SDK to check against).

``etsy_facts.FACTS`` is a verbatim copy of the Etsy section of the facts
file gathered from Etsy's OAS (Aug 2026); when the shared facts file sits next
to the repository, the copy must still equal it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from etsy_facts import FACTS

from autopack.domain.providers import Intent
from autopack.fakes import etsy as fake
from autopack.providers.etsy import listing, wire
from autopack.providers.etsy.adapter import EtsyAdapter
from autopack.services.providers import NoCredentialStore

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[2] / "shared" / "providers.md"


def enum_of(field: str) -> list[str]:
    """The ``a|b|c`` list the facts give for ``field``."""
    found = re.search(rf"`{re.escape(field)}` (?:\(|takes )`([^`]+\|[^`]+)`", FACTS)
    assert found, f"{field} not in the facts"
    return found[1].split("|")


def expand_decades(values: list[str]) -> list[str]:
    """``1990s…1700s``: the decades of the 1900s, then the 1800s and 1700s."""
    out: list[str] = []
    for value in values:
        if "…" in value:
            first, last = value.split("…")
            assert (first, last) == ("1990s", "1700s")
            out += [f"{d}s" for d in range(1990, 1899, -10)] + ["1800s", "1700s"]
        else:
            out.append(value)
    return out


def test_the_copy_is_the_shared_facts_section() -> None:
    if not SHARED.exists():
        pytest.skip("the shared facts file is not next to this checkout")
    text = SHARED.read_text(encoding="utf-8")
    start = text.index("## 2. Etsy Open API v3")
    assert text[start : text.index("---", start)].rstrip() + "\n" == FACTS


def test_enums_are_the_facts() -> None:
    assert list(wire.WHO_MADE) == enum_of("who_made")
    assert list(wire.WHEN_MADE) == expand_decades(enum_of("when_made"))
    assert list(wire.LISTING_TYPES) == enum_of("type")
    assert list(wire.LISTING_STATES) == enum_of("state")
    # The fake keeps its own copy (it must not import the adapter): the same sets.
    assert set(wire.WHO_MADE) == fake.WHO_MADE
    assert set(wire.WHEN_MADE) == fake.WHEN_MADE
    assert set(wire.LISTING_TYPES) == fake.TYPES


def test_spec_date_names_the_pinned_copy() -> None:
    assert re.fullmatch(r"\d{4}-\d{2}", wire.SPEC_DATE)
    assert "Aug 2026" in FACTS
    assert wire.SPEC_DATE == "2026-08"
    # when_made moves with the calendar: the facts name the old value, we refuse it.
    assert "`2020_2024` in an older copy" in FACTS
    assert "2020_2024" not in wire.WHEN_MADE


def test_rules_and_headers_are_the_facts() -> None:
    once = re.search(r"Title rule: (.+) may each appear only once", FACTS)
    assert once
    assert set(re.findall(r"`(.)`", once[1])) == set(wire.TITLE_ONCE_CHARACTERS)
    headers = re.search(r"Headers: (.+)\. An exceeded limit returns 429", FACTS)
    assert headers
    assert re.findall(r"`([a-z\-]+)`", headers[1]) == list(wire.RATE_LIMIT_HEADERS)
    assert "`x-api-key: <keystring>:<shared_secret>`" in FACTS
    assert wire.API_KEY_HEADER == "x-api-key"
    assert "`application/x-www-form-urlencoded`" in FACTS
    assert "`; charset=utf-8`" in FACTS
    assert wire.FORM_CONTENT_TYPE == "application/x-www-form-urlencoded; charset=utf-8"
    assert "Array parameters are comma-separated" in FACTS
    assert wire.ARRAY_SEPARATOR == ","
    assert "`limit` is 1\u2013100" in FACTS
    assert wire.LISTINGS_PAGE_LIMIT == 100


def test_our_form_fields_are_fields_of_create_draft_listing() -> None:
    """Every field the adapter can send is one the facts list for the endpoint, and
    every required one is sent."""
    create = FACTS[FACTS.index("**createDraftListing**") : FACTS.index("**Images and publishing**")]
    documented = set(re.findall(r"`([a-z_]+)`", create))
    required = create[create.index("Required fields") : create.index("Optional fields")]
    required_fields = {f for f in re.findall(r"`([a-z_]+)`", required) if f not in wire.WHO_MADE}
    required_fields = {f for f in required_fields if f not in wire.WHEN_MADE}
    sent = set(listing.ALLOWED_FIELDS) - {"shop_id", "images", "publish"}
    # Units travel beside the measures the facts list ("with their units").
    assert "with their units" in create
    assert sent - {"item_weight_unit", "item_dimensions_unit"} <= documented
    assert required_fields == {
        "quantity",
        "title",
        "description",
        "price",
        "who_made",
        "when_made",
        "taxonomy_id",
    }
    assert required_fields <= set(listing.REQUIRED_FIELDS)
    # And the rendered body carries exactly those names, required ones first.
    payload = {
        "shop_id": 1,
        "title": "t",
        "description": "d",
        "price": "1.00",
        "quantity": 1,
        "who_made": "i_did",
        "when_made": "made_to_order",
        "taxonomy_id": 1,
        "type": "download",
    }
    adapter = EtsyAdapter(
        "https://api.etsy.com/v3/application",
        keystring=None,
        shared_secret=None,
        credentials=NoCredentialStore("etsy"),
        media_root=HERE,
    )
    with adapter:
        body = adapter.render(Intent("etsy", "listing.create", "a", "k", payload)).body
    assert isinstance(body, str)
    names = [pair.split("=")[0] for pair in body.split("&")]
    assert set(names) - {"type"} == required_fields
    assert set(names) <= documented


def test_image_upload_fields_are_the_facts() -> None:
    images = FACTS[FACTS.index("**uploadListingImage:**") : FACTS.index("**Publishing")]
    for name in ("image", "rank", "overwrite", "alt_text"):
        assert f"`{name}`" in images
    assert "up to 500 characters" in images
    assert wire.ALT_TEXT_MAX_CHARS == 500
    assert "multipart/form-data" in images
