"""A wire-faithful fake of the Etsy Open API v3 listing endpoints.

Paths (under ``/v3/application``), as Etsy answers them::

    POST  /shops/{shop_id}/listings                      createDraftListing  201
    POST  /shops/{shop_id}/listings/{listing_id}/images  uploadListingImage  201
    PATCH /shops/{shop_id}/listings/{listing_id}         updateListing       200
    GET   /listings/{listing_id}[?includes=Images]       getListing          200
    GET   /shops/{shop_id}/listings?state=&limit=&offset= getListingsByShop  200

Rules it enforces like Etsy: ``x-api-key`` must be ``keystring:shared_secret``
(403 without the shared secret, the Feb 9, 2026 rule); ``Authorization: Bearer``
(401); bodies of the write endpoints form-encoded (a JSON body is 400), images
``multipart/form-data``; the enums and the title rule (400); ``state=active``
needs an image (400). Errors are ``{"error": "<text>"}``. Every answer carries
the four rate-limit headers; past the per-second or per-day limit it is 429.

Its own fault kinds (the host handles the generic ones): ``rate_limit``
(params ``scope``: ``second`` (default) or ``day``) answers 429 with the
headers of that limit spent; ``quota_exhausted`` (``scope``: ``day`` (default)
or ``second``) processes the request but answers with ``x-remaining-today: 0``
(or ``x-remaining-this-second: 0``).

It does not import the adapter: the wire is the only contract, so the enums
below are its own copy of Etsy's.
"""

from __future__ import annotations

import collections
import hashlib
import re
import threading
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from autopack.fakes.protocol import FakeRequest, FakeResponse, Fault, json_response
from autopack.fakes.store import FakeStore

PROVIDER = "etsy"
PREFIX = "/v3/application/"
LISTING_ID_BASE = 1_500_000_000
IMAGE_ID_BASE = 6_000_000_000
DEFAULT_PER_SECOND = 150
DEFAULT_PER_DAY = 100_000

WHO_MADE = frozenset({"i_did", "someone_else", "collective"})
WHEN_MADE = frozenset(
    {"made_to_order", "2020_2026", "2010_2019", "2007_2009", "before_2007", "2000_2006"}
    | {f"{decade}s" for decade in range(1700, 2000, 10) if decade >= 1900 or decade % 100 == 0}
    | {"before_1700"}
)
TYPES = frozenset({"physical", "download", "both"})
STATES = frozenset({"active", "inactive", "sold_out", "draft", "expired"})
REQUIRED = ("quantity", "title", "description", "price", "who_made", "when_made", "taxonomy_id")
ARRAYS = ("tags", "materials", "styles", "image_ids")
INTS = ("taxonomy_id", "shipping_profile_id", "return_policy_id", "readiness_state_id")
BOOLS = ("is_supply", "is_customizable", "should_auto_renew", "is_taxable")
UPDATABLE = frozenset(
    {"title", "description", "state", "quantity", "price", *ARRAYS, *INTS, *BOOLS, "type"}
)

_SHOP_LISTINGS = re.compile(r"/v3/application/shops/(\d+)/listings")
_SHOP_LISTING = re.compile(r"/v3/application/shops/(\d+)/listings/(\d+)")
_LISTING_IMAGES = re.compile(r"/v3/application/shops/(\d+)/listings/(\d+)/images")
_LISTING = re.compile(r"/v3/application/listings/(\d+)")


class EtsyError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class EtsyFake:
    """The Etsy fake over a durable ``FakeStore``."""

    def __init__(
        self,
        store: FakeStore,
        *,
        per_second: int = DEFAULT_PER_SECOND,
        per_day: int = DEFAULT_PER_DAY,
    ) -> None:
        self.store = store
        self.per_second = per_second
        self.per_day = per_day
        self._recent: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return PROVIDER

    @property
    def prefixes(self) -> tuple[str, ...]:
        return (PREFIX,)

    def effects(self) -> list[dict[str, Any]]:
        """Every listing, oldest first, each with its images by rank."""
        listings = self.store.all(PROVIDER, "listing")
        for listing in listings:
            listing["images"] = self._images(int(listing["listing_id"]))
        return listings

    # --- the host's entry point -------------------------------------------------------

    def handle(self, request: FakeRequest, fault: Fault | None) -> FakeResponse:
        second_left, day_left = self._count()
        if fault is not None and fault.kind == "rate_limit":
            scope = str(fault.params.get("scope", "second"))
            second_left = 0 if scope == "second" else second_left
            day_left = 0 if scope == "day" else day_left
            return self._error(429, "Rate limit exceeded", second_left, day_left)
        if second_left < 0 or day_left < 0:
            return self._error(429, "Rate limit exceeded", max(second_left, 0), max(day_left, 0))
        if fault is not None and fault.kind == "quota_exhausted":
            if fault.params.get("scope", "day") == "second":
                second_left = 0
            else:
                day_left = 0
        try:
            status, data = self._route(request)
        except EtsyError as exc:
            return self._error(exc.status, exc.message, second_left, day_left)
        return json_response(status, data, self._limit_headers(second_left, day_left))

    # --- rate limits --------------------------------------------------------------------

    def _count(self) -> tuple[int, int]:
        """Count this request; what is left of each window after it (negative: over)."""
        now = time.monotonic()
        with self._lock:
            while self._recent and now - self._recent[0] >= 1.0:
                self._recent.popleft()
            self._recent.append(now)
            this_second = len(self._recent)
        today = self.store.next_value(f"{PROVIDER}:requests:{time.strftime('%Y%m%d')}")
        return self.per_second - this_second, self.per_day - today

    def _limit_headers(self, second_left: int, day_left: int) -> dict[str, str]:
        return {
            "x-limit-per-second": str(self.per_second),
            "x-remaining-this-second": str(max(second_left, 0)),
            "x-limit-per-day": str(self.per_day),
            "x-remaining-today": str(max(day_left, 0)),
        }

    def _error(self, status: int, message: str, second_left: int, day_left: int) -> FakeResponse:
        return json_response(status, {"error": message}, self._limit_headers(second_left, day_left))

    # --- routing ------------------------------------------------------------------------

    def _route(self, request: FakeRequest) -> tuple[int, Any]:
        self._authenticate(request.headers)
        path = request.path.rstrip("/")
        if match := _LISTING_IMAGES.fullmatch(path):
            if request.method == "POST":
                return self._upload_image(request, int(match[1]), int(match[2]))
        elif match := _SHOP_LISTING.fullmatch(path):
            if request.method == "PATCH":
                return self._update(request, int(match[1]), int(match[2]))
        elif match := _SHOP_LISTINGS.fullmatch(path):
            if request.method == "POST":
                return self._create(request, int(match[1]))
            if request.method == "GET":
                return self._by_shop(request, int(match[1]))
        elif (match := _LISTING.fullmatch(path)) and request.method == "GET":
            return self._get(request, int(match[1]))
        raise EtsyError(404, f"No route for {request.method} {request.path}")

    def _authenticate(self, headers: Mapping[str, str]) -> None:
        api_key = headers.get("x-api-key", "")
        keystring, _, shared_secret = api_key.partition(":")
        if not keystring:
            raise EtsyError(403, "Missing API key (x-api-key header)")
        if not shared_secret:
            raise EtsyError(
                403,
                "The x-api-key header must be in the format keystring:shared_secret",
            )
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme != "Bearer" or not token.strip():
            raise EtsyError(401, "invalid_token")

    # --- endpoints ----------------------------------------------------------------------

    def _create(self, request: FakeRequest, shop_id: int) -> tuple[int, Any]:
        form = _form(request)
        missing = [name for name in REQUIRED if not form.get(name)]
        if missing:
            raise EtsyError(400, f"Missing required parameter: {missing[0]}")
        listing: dict[str, Any] = {"shop_id": shop_id, "state": "draft", "images_count": 0}
        _apply(listing, form, creating=True)
        if listing["type"] == "physical" and "shipping_profile_id" not in listing:
            raise EtsyError(400, "shipping_profile_id is required for physical listings")
        listing_id = LISTING_ID_BASE + self.store.next_value(f"{PROVIDER}:listing")
        listing["listing_id"] = listing_id
        now = int(time.time())
        listing.update(created_timestamp=now, updated_timestamp=now, url=_url(listing_id))
        self.store.put(PROVIDER, "listing", str(listing_id), listing)
        return 201, listing

    def _upload_image(self, request: FakeRequest, shop_id: int, listing_id: int) -> tuple[int, Any]:
        listing = self._listing(listing_id, shop_id)
        content_type = request.headers.get("content-type", "")
        boundary = re.search(r"boundary=([^;\s]+)", content_type)
        if not content_type.startswith("multipart/form-data") or boundary is None:
            raise EtsyError(400, "Expected multipart/form-data")
        parts = _multipart(request.read_body(), boundary[1].strip('"'))
        image = parts.get("image")
        if image is None or not image[1]:
            raise EtsyError(400, "Missing required parameter: image")
        fields = {
            name: value.decode("utf-8") for name, (_, value) in parts.items() if name != "image"
        }
        alt_text = fields.get("alt_text", "")
        if len(alt_text) > 500:
            raise EtsyError(400, "alt_text must be at most 500 characters")
        images = self._images(listing_id)
        try:
            rank = int(fields.get("rank", str(len(images) + 1)))
        except ValueError as exc:
            raise EtsyError(400, "rank must be an integer") from exc
        overwrite = fields.get("overwrite", "false") == "true"
        image_id = IMAGE_ID_BASE + self.store.next_value(f"{PROVIDER}:image")
        blob = self.store.blob_path(PROVIDER, f"{listing_id}-{image_id}")
        self.store.append_blob(blob, iter([image[1]]))
        record = {
            "listing_image_id": image_id,
            "listing_id": listing_id,
            "rank": rank,
            "alt_text": alt_text,
            "sha256": hashlib.sha256(image[1]).hexdigest(),
            "size": len(image[1]),
            "content_type": image[0],
            "created_timestamp": int(time.time()),
            "url_fullxfull": f"https://i.etsystatic.test/{image_id}.jpg",
        }
        # Each write commits before the answer (the store fsyncs every commit).
        for other in images:
            if other["rank"] == rank and overwrite:
                self.store.delete(PROVIDER, "image", str(other["listing_image_id"]))
            elif other["rank"] >= rank and not overwrite:
                other["rank"] += 1
                self.store.put(PROVIDER, "image", str(other["listing_image_id"]), other)
        self.store.put(PROVIDER, "image", str(image_id), record)
        listing["images_count"] = len(self._images(listing_id))
        self.store.put(PROVIDER, "listing", str(listing_id), listing)
        return 201, record

    def _update(self, request: FakeRequest, shop_id: int, listing_id: int) -> tuple[int, Any]:
        listing = self._listing(listing_id, shop_id)
        form = _form(request)
        unknown = sorted(set(form) - UPDATABLE)
        if unknown:
            raise EtsyError(400, f"Unknown parameter: {unknown[0]}")
        updated = dict(listing)
        _apply(updated, form, creating=False)
        if form.get("state") == "active" and listing["state"] != "active":
            if not self._images(listing_id):
                raise EtsyError(400, "Cannot activate a listing without an image")
            if updated["type"] == "physical" and "shipping_profile_id" not in updated:
                raise EtsyError(400, "A physical listing needs a valid shipping profile")
        updated["updated_timestamp"] = int(time.time())
        self.store.put(PROVIDER, "listing", str(listing_id), updated)
        return 200, updated

    def _get(self, request: FakeRequest, listing_id: int) -> tuple[int, Any]:
        listing = self.store.get(PROVIDER, "listing", str(listing_id))
        if listing is None:
            raise EtsyError(404, f"Listing {listing_id} not found")
        includes = (request.param("includes") or "").split(",")
        if "Images" in includes:
            listing["images"] = self._images(listing_id)
        return 200, listing

    def _by_shop(self, request: FakeRequest, shop_id: int) -> tuple[int, Any]:
        state = request.param("state") or "active"
        if state not in STATES:
            raise EtsyError(400, f"Invalid state: {state}")
        try:
            limit = int(request.param("limit") or "25")
            offset = int(request.param("offset") or "0")
        except ValueError as exc:
            raise EtsyError(400, "limit and offset must be integers") from exc
        if not 1 <= limit <= 100 or offset < 0:
            raise EtsyError(400, "limit must be within 1..100 and offset >= 0")
        found = self.store.find(
            PROVIDER, "listing", lambda o: o["shop_id"] == shop_id and o["state"] == state
        )
        return 200, {"count": len(found), "results": found[offset : offset + limit]}

    # --- helpers ------------------------------------------------------------------------

    def _listing(self, listing_id: int, shop_id: int) -> dict[str, Any]:
        listing = self.store.get(PROVIDER, "listing", str(listing_id))
        if listing is None or listing["shop_id"] != shop_id:
            raise EtsyError(404, f"Listing {listing_id} not found in shop {shop_id}")
        return listing

    def _images(self, listing_id: int) -> list[dict[str, Any]]:
        images = self.store.find(PROVIDER, "image", lambda o: o["listing_id"] == listing_id)
        return sorted(images, key=lambda o: (o["rank"], o["listing_image_id"]))


def _url(listing_id: int) -> str:
    return f"https://www.etsy.com/listing/{listing_id}"


def _form(request: FakeRequest) -> dict[str, str]:
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("application/x-www-form-urlencoded"):
        raise EtsyError(400, "Expected application/x-www-form-urlencoded request body")
    try:
        pairs = parse_qsl(
            request.read_body().decode("utf-8"), keep_blank_values=True, strict_parsing=True
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise EtsyError(400, "Malformed form-encoded body") from exc
    return dict(pairs)


def _apply(listing: dict[str, Any], form: Mapping[str, str], *, creating: bool) -> None:
    """Validate ``form`` like Etsy and write its values into ``listing``."""
    if "title" in form:
        title = form["title"]
        if not title or len(title) > 140:
            raise EtsyError(400, "title must be 1..140 characters")
        for mark in "%:&+":
            if title.count(mark) > 1:
                raise EtsyError(400, f"title may contain the character {mark} only once")
        listing["title"] = title
    if "description" in form:
        listing["description"] = form["description"]
    if "quantity" in form:
        listing["quantity"] = _int(form, "quantity")
        if not 1 <= listing["quantity"] <= 999:
            raise EtsyError(400, "quantity must be within 1..999")
    if "price" in form:
        try:
            price = float(form["price"])
        except ValueError as exc:
            raise EtsyError(400, "price must be a number") from exc
        if price <= 0:
            raise EtsyError(400, "price must be greater than 0")
        cents = round(price * 100)
        listing["price"] = {"amount": cents, "divisor": 100, "currency_code": "USD"}
    for name, allowed in (("who_made", WHO_MADE), ("when_made", WHEN_MADE), ("type", TYPES)):
        if name in form:
            if form[name] not in allowed:
                raise EtsyError(400, f"{name} must be one of {', '.join(sorted(allowed))}")
            listing[name] = form[name]
    if creating and "type" not in listing:
        listing["type"] = "physical"
    if "state" in form:
        if form["state"] not in ("active", "inactive", "draft"):
            raise EtsyError(400, "state must be active, inactive or draft")
        listing["state"] = form["state"]
    for name in INTS:
        if name in form:
            listing[name] = _int(form, name)
    for name in BOOLS:
        if name in form:
            if form[name] not in ("true", "false"):
                raise EtsyError(400, f"{name} must be true or false")
            listing[name] = form[name] == "true"
    for name in ARRAYS:
        if name in form:
            listing[name] = [v for v in form[name].split(",") if v]
    if len(listing.get("tags", [])) > 13:
        raise EtsyError(400, "A listing may have at most 13 tags")


def _int(form: Mapping[str, str], name: str) -> int:
    try:
        return int(form[name])
    except ValueError as exc:
        raise EtsyError(400, f"{name} must be an integer") from exc


def _multipart(body: bytes, boundary: str) -> dict[str, tuple[str, bytes]]:
    """name -> (content type, bytes) of each part; 400 when the framing is broken."""
    delimiter = b"--" + boundary.encode()
    if not body.startswith(delimiter) or not body.rstrip(b"\r\n").endswith(delimiter + b"--"):
        raise EtsyError(400, "Malformed multipart body")
    parts: dict[str, tuple[str, bytes]] = {}
    for chunk in body.split(delimiter)[1:-1]:
        if not chunk.startswith(b"\r\n") or not chunk.endswith(b"\r\n"):
            raise EtsyError(400, "Malformed multipart body")
        head, sep, content = chunk[2:-2].partition(b"\r\n\r\n")
        if not sep:
            raise EtsyError(400, "Malformed multipart part")
        headers = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        name = re.search(r'name="([^"]*)"', headers.get("content-disposition", ""))
        if name is None:
            raise EtsyError(400, "Multipart part without a name")
        parts[name[1]] = (headers.get("content-type", "text/plain"), content)
    return parts


def build(store: FakeStore) -> EtsyFake:
    """The registry's entry point (``autopack.fakes.registry``)."""
    return EtsyFake(store)
