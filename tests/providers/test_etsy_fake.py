"""The Etsy fake over real HTTP (the fakes process): Etsy's paths, status codes,
``{"error": ...}`` bodies, rate-limit headers, its rules and faults, durability."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fakes_support import FakesProcess, running_fakes

API = "/v3/application"
HEADERS = {"x-api-key": "keystring:shared-secret", "Authorization": "Bearer 12345678.tok"}
FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
DRAFT = {
    "quantity": "2",
    "title": "Mug: blue & white",
    "description": "A mug",
    "price": "12.50",
    "who_made": "i_did",
    "when_made": "2020_2026",
    "taxonomy_id": "1062",
    "shipping_profile_id": "55",
    "tags": "mug,blue",
}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40
RATE_HEADERS = ("x-limit-per-second", "x-remaining-this-second", "x-limit-per-day")


@pytest.fixture(scope="module")
def fakes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakesProcess]:
    with running_fakes(tmp_path_factory.mktemp("etsy-fake"), "etsy") as process:
        yield process


@pytest.fixture
def http(fakes: FakesProcess) -> Iterator[httpx.Client]:
    fakes.reset()
    with httpx.Client(base_url=fakes.url + API, timeout=10, trust_env=False) as client:
        yield client


def create(
    http: httpx.Client, shop: int = 7, changes: dict[str, str] | None = None
) -> httpx.Response:
    return http.post(
        f"/shops/{shop}/listings", data={**DRAFT, **(changes or {})}, headers={**HEADERS, **FORM}
    )


def upload(
    http: httpx.Client, shop: int, listing: int, data: bytes = PNG, **fields: str
) -> httpx.Response:
    return http.post(
        f"/shops/{shop}/listings/{listing}/images",
        files={"image": ("a.png", data, "image/png")},
        data=fields,
        headers=HEADERS,
    )


def error_of(response: httpx.Response) -> str:
    body: dict[str, Any] = response.json()
    assert set(body) == {"error"}
    assert isinstance(body["error"], str)
    return body["error"]


def test_create_draft_answers_201_with_rate_limit_headers(
    http: httpx.Client, fakes: FakesProcess
) -> None:
    r = create(http)
    assert r.status_code == 201, r.text
    listing = r.json()
    assert listing["state"] == "draft"
    assert listing["shop_id"] == 7
    assert listing["tags"] == ["mug", "blue"]
    assert listing["price"] == {"amount": 1250, "divisor": 100, "currency_code": "USD"}
    assert listing["title"] == "Mug: blue & white"
    for header in (*RATE_HEADERS, "x-remaining-today"):
        assert r.headers[header].isdigit()
    assert int(r.headers["x-remaining-today"]) < int(r.headers["x-limit-per-day"])
    assert [e["listing_id"] for e in fakes.effects("etsy")] == [listing["listing_id"]]


@pytest.mark.parametrize(
    ("headers", "status", "words"),
    [
        ({"x-api-key": "keystring", "Authorization": "Bearer 1.t"}, 403, "shared_secret"),
        ({"x-api-key": "keystring:", "Authorization": "Bearer 1.t"}, 403, "shared_secret"),
        ({"Authorization": "Bearer 1.t"}, 403, "API key"),
        ({"x-api-key": "k:s"}, 401, "invalid_token"),
        ({"x-api-key": "k:s", "Authorization": "Basic abc"}, 401, "invalid_token"),
    ],
)
def test_credentials_are_required_with_the_shared_secret(
    http: httpx.Client, fakes: FakesProcess, headers: dict[str, str], status: int, words: str
) -> None:
    r = http.post("/shops/7/listings", data=DRAFT, headers={**headers, **FORM})
    assert r.status_code == status
    assert words in error_of(r)
    assert r.headers["x-remaining-this-second"].isdigit()
    assert fakes.effects("etsy") == []


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"who_made": "me"}, "who_made"),
        ({"when_made": "2020_2024"}, "when_made"),
        ({"type": "digital"}, "type"),
        ({"title": "a & b & c"}, "only once"),
        ({"quantity": "two"}, "quantity"),
        ({"price": "0"}, "price"),
        ({"title": ""}, "title"),
        ({"tags": ",".join(f"t{i}" for i in range(14))}, "13 tags"),
    ],
)
def test_invalid_fields_are_400(
    http: httpx.Client, fakes: FakesProcess, changes: dict[str, str], words: str
) -> None:
    r = create(http, changes=changes)
    assert r.status_code == 400
    assert words in error_of(r)
    assert fakes.effects("etsy") == []


def test_a_json_body_or_a_missing_field_is_400(http: httpx.Client, fakes: FakesProcess) -> None:
    r = http.post("/shops/7/listings", json=DRAFT, headers=HEADERS)
    assert r.status_code == 400
    assert "x-www-form-urlencoded" in error_of(r)
    partial = {k: v for k, v in DRAFT.items() if k != "taxonomy_id"}
    r = http.post("/shops/7/listings", data=partial, headers={**HEADERS, **FORM})
    assert r.status_code == 400
    assert "taxonomy_id" in error_of(r)
    physical = {k: v for k, v in DRAFT.items() if k != "shipping_profile_id"}
    r = http.post("/shops/7/listings", data=physical, headers={**HEADERS, **FORM})
    assert r.status_code == 400
    assert "shipping_profile_id" in error_of(r)
    assert fakes.effects("etsy") == []


def test_images_are_multipart_and_overwrite_keeps_one_per_rank(
    http: httpx.Client, fakes: FakesProcess
) -> None:
    listing = create(http).json()["listing_id"]
    first = upload(http, 7, listing, rank="1", overwrite="true", alt_text="front")
    assert first.status_code == 201, first.text
    image = first.json()
    assert (image["listing_id"], image["rank"], image["alt_text"]) == (listing, 1, "front")
    assert image["sha256"] == hashlib.sha256(PNG).hexdigest()
    again = upload(http, 7, listing, PNG + b"x", rank="1", overwrite="true")
    assert again.status_code == 201
    (effect,) = fakes.effects("etsy")
    assert [i["listing_image_id"] for i in effect["images"]] == [again.json()["listing_image_id"]]
    upload(http, 7, listing, rank="1")  # no overwrite: inserted, the other moves down
    assert [i["rank"] for i in fakes.effects("etsy")[0]["images"]] == [1, 2]
    r = http.post(
        f"/shops/7/listings/{listing}/images",
        content=b"image=x",
        headers={**HEADERS, **FORM},
    )
    assert r.status_code == 400
    assert "multipart" in error_of(r)
    r = http.post(
        f"/shops/7/listings/{listing}/images", files={"alt_text": (None, "x")}, headers=HEADERS
    )
    assert r.status_code == 400
    assert "image" in error_of(r)
    assert upload(http, 7, listing + 1000).status_code == 404
    assert upload(http, 8, listing).status_code == 404  # another shop's listing


def test_publishing_needs_an_image(http: httpx.Client, fakes: FakesProcess) -> None:
    listing = create(http).json()["listing_id"]
    path = f"/shops/7/listings/{listing}"
    r = http.patch(path, data={"state": "active"}, headers={**HEADERS, **FORM})
    assert r.status_code == 400
    assert "image" in error_of(r)
    upload(http, 7, listing, rank="1", overwrite="true")
    r = http.patch(
        path, data={"state": "active", "description": "clean"}, headers={**HEADERS, **FORM}
    )
    assert r.status_code == 200, r.text
    assert (r.json()["state"], r.json()["description"]) == ("active", "clean")
    r = http.patch(path, json={"state": "active"}, headers=HEADERS)
    assert r.status_code == 400
    r = http.patch(path, data={"colour": "red"}, headers={**HEADERS, **FORM})
    assert r.status_code == 400
    assert "colour" in error_of(r)


def test_get_listing_and_listings_by_shop(http: httpx.Client) -> None:
    ids = [create(http).json()["listing_id"] for _ in range(3)]
    other = create(http, shop=9).json()["listing_id"]
    upload(http, 7, ids[0], rank="1", overwrite="true")
    r = http.get(f"/listings/{ids[0]}", params={"includes": "Images"}, headers=HEADERS)
    assert r.status_code == 200
    assert len(r.json()["images"]) == 1
    assert "images" not in http.get(f"/listings/{ids[0]}", headers=HEADERS).json()
    r = http.get(f"/listings/{other + 100}", headers=HEADERS)
    assert r.status_code == 404
    assert "not found" in error_of(r)
    page = http.get("/shops/7/listings", params={"state": "draft", "limit": "2"}, headers=HEADERS)
    assert page.json()["count"] == 3
    assert [x["listing_id"] for x in page.json()["results"]] == ids[:2]
    rest = http.get(
        "/shops/7/listings", params={"state": "draft", "limit": "2", "offset": "2"}, headers=HEADERS
    )
    assert [x["listing_id"] for x in rest.json()["results"]] == ids[2:]
    active = http.get("/shops/7/listings", params={"state": "active"}, headers=HEADERS)
    assert active.json() == {"count": 0, "results": []}
    for params in ({"limit": "101"}, {"limit": "0"}, {"state": "gone"}):
        assert http.get("/shops/7/listings", params=params, headers=HEADERS).status_code == 400
    assert http.get("/shops/7/listings", headers={}).status_code == 403


def test_rate_limit_faults_answer_429_with_the_headers(
    http: httpx.Client, fakes: FakesProcess
) -> None:
    fakes.set_faults({"provider": "etsy", "kind": "rate_limit"})
    r = create(http)
    assert r.status_code == 429
    assert error_of(r)
    assert r.headers["x-remaining-this-second"] == "0"
    assert int(r.headers["x-remaining-today"]) > 0
    fakes.set_faults({"provider": "etsy", "kind": "rate_limit", "scope": "day"})
    r = create(http)
    assert (r.status_code, r.headers["x-remaining-today"]) == (429, "0")
    assert fakes.effects("etsy") == []
    fakes.set_faults({"provider": "etsy", "kind": "quota_exhausted"})
    r = create(http)
    assert (r.status_code, r.headers["x-remaining-today"]) == (201, "0")
    assert len(fakes.effects("etsy")) == 1


def test_generic_faults_apply_to_the_etsy_paths(http: httpx.Client, fakes: FakesProcess) -> None:
    fakes.set_faults(
        {"provider": "etsy", "kind": "status_after_commit", "status": 503, "method": "POST"}
    )
    assert create(http).status_code == 503
    assert len(fakes.effects("etsy")) == 1
    fakes.set_faults({"provider": "etsy", "kind": "lost_response", "path_contains": "/listings"})
    with pytest.raises(httpx.TransportError):
        create(http)
    assert len(fakes.effects("etsy")) == 2


def test_effects_survive_a_crash_of_the_fake(tmp_path: Path) -> None:
    with running_fakes(tmp_path, "etsy") as fakes:
        with httpx.Client(base_url=fakes.url + API, timeout=10, trust_env=False) as http:
            listing = create(http).json()["listing_id"]
            upload(http, 7, listing, rank="1", overwrite="true")
        fakes.kill()
        fakes.restart()
        (effect,) = fakes.effects("etsy")
        assert effect["listing_id"] == listing
        assert len(effect["images"]) == 1
        with httpx.Client(base_url=fakes.url + API, timeout=10, trust_env=False) as http:
            # Ids never repeat across restarts (durable counters).
            assert create(http).json()["listing_id"] > listing
