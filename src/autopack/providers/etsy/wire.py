"""Etsy Open API v3 wire facts the adapter relies on, pinned in one place.

Every enum and limit the adapter validates comes from here, with the spec copy
it was read from (``SPEC_DATE``): a change at Etsy is a one-line edit here, and
``tests/providers/etsy/test_etsy_contract.py`` checks these values against the
facts file (``docs``: the provider facts gathered from Etsy's OAS).
"""

from __future__ import annotations

from typing import Final

# The Etsy OAS copy these values were pinned from (amitray007/etsy-python-sdk
# specs/baseline.json, Aug 2026, as summarised in the provider facts file).
SPEC_DATE: Final = "2026-08"

# createDraftListing enums.
WHO_MADE: Final = ("i_did", "someone_else", "collective")
# ``when_made`` moves with the calendar (it was 2020_2024 in an older copy).
WHEN_MADE: Final = (
    "made_to_order",
    "2020_2026",
    "2010_2019",
    "2007_2009",
    "before_2007",
    "2000_2006",
    "1990s",
    "1980s",
    "1970s",
    "1960s",
    "1950s",
    "1940s",
    "1930s",
    "1920s",
    "1910s",
    "1900s",
    "1800s",
    "1700s",
    "before_1700",
)
LISTING_TYPES: Final = ("physical", "download", "both")
WEIGHT_UNITS: Final = ("oz", "lb", "g", "kg")
DIMENSION_UNITS: Final = ("in", "ft", "mm", "cm", "m", "yd", "inches")
# getListingsByShop ``state`` values.
LISTING_STATES: Final = ("active", "inactive", "sold_out", "draft", "expired")

# Limits. The title rule is the facts file's; the list limits are Etsy's
# published listing rules (13 tags of 20 characters, 13 materials of 45, 2
# styles of 45, 20 images, alt text 500), kept here so a change is one edit.
TITLE_MAX_CHARS: Final = 140
TITLE_ONCE_CHARACTERS: Final = ("%", ":", "&", "+")
TAGS_MAX: Final = 13
TAG_MAX_CHARS: Final = 20
MATERIALS_MAX: Final = 13
MATERIAL_MAX_CHARS: Final = 45
STYLES_MAX: Final = 2
STYLE_MAX_CHARS: Final = 45
IMAGES_MAX: Final = 20
ALT_TEXT_MAX_CHARS: Final = 500
QUANTITY_MAX: Final = 999
PRICE_MAX_DECIMALS: Final = 2

# Request details.
FORM_CONTENT_TYPE: Final = "application/x-www-form-urlencoded; charset=utf-8"
API_KEY_HEADER: Final = "x-api-key"
# Array parameters travel as one comma-separated value (Etsy's URL syntax page).
ARRAY_SEPARATOR: Final = ","
LISTINGS_PAGE_LIMIT: Final = 100  # getListingsByShop ``limit`` is 1..100

# Rate-limit response headers (QPS and a sliding 24-hour QPD window).
LIMIT_PER_SECOND: Final = "x-limit-per-second"
REMAINING_THIS_SECOND: Final = "x-remaining-this-second"
LIMIT_PER_DAY: Final = "x-limit-per-day"
REMAINING_TODAY: Final = "x-remaining-today"
RATE_LIMIT_HEADERS: Final = (
    LIMIT_PER_SECOND,
    REMAINING_THIS_SECOND,
    LIMIT_PER_DAY,
    REMAINING_TODAY,
)
# uploadListingImage takes these image types (the part's Content-Type).
IMAGE_CONTENT_TYPES: Final = ("image/jpeg", "image/png", "image/gif")
