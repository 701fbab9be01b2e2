"""The Etsy adapter against the Etsy fake over real HTTP on 127.0.0.1: the
sequence, every fault and its classification, lookup, rate limits and resume."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from autopack.domain.packets import adapter_payload
from autopack.domain.providers import (
    InMemoryProgress,
    Intent,
    LookupStatus,
    Outcome,
)
from autopack.providers.etsy import adapter as etsy_adapter
from autopack.providers.etsy.adapter import EtsyAdapter
from autopack.providers.etsy.listing import lookup_marker
from autopack.providers.etsy.packet import PACKET_PROFILE
from autopack.providers.unit import ApiKeyCredential
from fakes_support import FakesProcess, running_fakes

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "etsy" / "listing.create"
TOKEN = "12345678.fakeEtsyAccessToken_abcdefghijklmnopqrstuvwxyz0123456789"
SECRET = "etsy-shared-secret-Qm4Rt8Yw2Zx6"
SHOP = 12345678


class StaticToken:
    """The credential boundary: one account's token (the store is tested elsewhere)."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def access_token(self, account: str) -> str:
        self.asked.append(account)
        return TOKEN

    def api_key(self, account: str) -> ApiKeyCredential:
        raise AssertionError("Etsy uses OAuth")


@pytest.fixture(scope="module")
def fakes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakesProcess]:
    with running_fakes(tmp_path_factory.mktemp("etsy-adapter"), "etsy") as process:
        yield process


@pytest.fixture
def media(tmp_path: Path) -> Path:
    """A media root holding the example image at its example path."""
    target = tmp_path / "media" / "examples" / "etsy" / "listing.create"
    target.mkdir(parents=True)
    shutil.copy(EXAMPLE / "image.png", target / "image.png")
    second = tmp_path / "media" / "second.png"
    second.write_bytes((EXAMPLE / "image.png").read_bytes() + b"\x00" * 16)
    return tmp_path / "media"


def make_adapter(
    fakes: FakesProcess, media: Path, *, secret: str | None = SECRET, **options: Any
) -> EtsyAdapter:
    return EtsyAdapter(
        fakes.url + "/v3/application",
        keystring="etsykeystring123",
        shared_secret=None if secret is None else SecretStr(secret),
        credentials=StaticToken(),
        media_root=media,
        timeout=options.pop("timeout", 5.0),
        **options,
    )


def payload(*, publish: bool = True, images: int = 1) -> dict[str, Any]:
    packet = json.loads((EXAMPLE / "payload.json").read_text("utf-8"))
    data: dict[str, Any] = adapter_payload(packet, PACKET_PROFILE)
    data["images"][0]["alt_text"] = "A speckled stoneware mug"
    data["publish"] = publish
    second = (EXAMPLE / "image.png").read_bytes() + b"\x00" * 16
    extra = {
        "path": "second.png",
        "size": len(second),
        "sha256": hashlib.sha256(second).hexdigest(),
        "content_type": "image/png",
    }
    data["images"] = [data["images"][0], extra][:images]
    if not images:
        del data["images"]
    return data


def intent(data: dict[str, Any], key: str = "k1") -> Intent:
    return Intent("etsy", "listing.create", "shop-main", key, data)


def run(adapter: EtsyAdapter, it: Intent, progress: InMemoryProgress) -> Any:
    return adapter.dispatch(it, adapter.render(it), progress)


@pytest.fixture
def etsy(fakes: FakesProcess, media: Path) -> Iterator[EtsyAdapter]:
    fakes.reset()
    with make_adapter(fakes, media) as adapter:
        yield adapter


def only_listing(fakes: FakesProcess) -> dict[str, Any]:
    effects = fakes.effects("etsy")
    assert len(effects) == 1, effects
    listing: dict[str, Any] = effects[0]
    return listing


def test_publish_creates_uploads_and_publishes_without_the_marker(
    etsy: EtsyAdapter, fakes: FakesProcess, media: Path
) -> None:
    it = intent(payload(images=2))
    progress = InMemoryProgress()
    result = run(etsy, it, progress)
    assert result.outcome is Outcome.SUCCEEDED, result
    listing = only_listing(fakes)
    assert result.provider_object_id == str(listing["listing_id"])
    assert listing["state"] == "active"
    assert lookup_marker("etsy", "shop-main", "k1") not in listing["description"]
    assert listing["description"] == payload()["description"]
    assert [i["sha256"] for i in listing["images"]] == [i["sha256"] for i in it.payload["images"]]
    assert [i["alt_text"] for i in listing["images"]] == ["A speckled stoneware mug", ""]
    assert progress.notes == [
        "sending createDraftListing",
        f"draft listing {listing['listing_id']} created",
        "image 1 of 2 uploaded",
        "image 2 of 2 uploaded",
        f"listing {listing['listing_id']} published",
    ]
    assert progress.state["images_done"] == 2
    assert result.summary["published"] is True
    found = etsy.lookup(it, progress.state)
    assert (found.status, found.provider_object_id) == (
        LookupStatus.FOUND,
        str(listing["listing_id"]),
    )


def test_a_draft_keeps_the_marker_and_is_found_by_it(
    etsy: EtsyAdapter, fakes: FakesProcess
) -> None:
    it = intent(payload(publish=False, images=0))
    assert etsy.lookup(it, {}).status is LookupStatus.NOT_FOUND
    result = run(etsy, it, InMemoryProgress())
    assert result.outcome is Outcome.SUCCEEDED
    listing = only_listing(fakes)
    assert listing["state"] == "draft"
    assert lookup_marker("etsy", "shop-main", "k1") in listing["description"]
    # Without any state: found by the marker among the shop's drafts.
    found = etsy.lookup(it, {})
    assert (found.status, found.provider_object_id) == (
        LookupStatus.FOUND,
        str(listing["listing_id"]),
    )
    assert etsy.lookup(intent(payload(publish=False, images=0), key="other"), {}).status is (
        LookupStatus.NOT_FOUND
    )


def test_the_marker_is_found_on_a_later_page(etsy: EtsyAdapter, fakes: FakesProcess) -> None:
    for n in range(101):
        assert (
            run(
                etsy,
                intent(payload(publish=False, images=0), key=f"filler-{n}"),
                InMemoryProgress(),
            ).outcome
            is Outcome.SUCCEEDED
        )
    it = intent(payload(publish=False, images=1), key="late")
    progress = InMemoryProgress()
    fakes.set_faults({"provider": "etsy", "kind": "lost_response", "path_contains": "/images"})
    assert run(etsy, it, progress).outcome is Outcome.MAYBE_EFFECT
    found = etsy.lookup(it, {})  # state lost: only the marker on page 2 finds it
    assert found.status is LookupStatus.IN_PROGRESS
    assert found.provider_object_id == str(progress.state["listing_id"])


def test_lost_create_answer_is_adopted_not_duplicated(
    etsy: EtsyAdapter, fakes: FakesProcess
) -> None:
    it = intent(payload())
    progress = InMemoryProgress()
    fakes.set_faults({"provider": "etsy", "kind": "lost_response", "method": "POST"})
    first = run(etsy, it, progress)
    assert first.outcome is Outcome.MAYBE_EFFECT
    assert progress.state == {"phase": "creating"}
    assert etsy.lookup(it, progress.state).status is LookupStatus.IN_PROGRESS
    again = run(etsy, it, progress)
    assert again.outcome is Outcome.SUCCEEDED, again
    listing = only_listing(fakes)
    assert listing["state"] == "active"
    assert progress.notes[1] == f"adopted draft listing {listing['listing_id']}"


def test_create_refused_before_processing_is_retried_once(
    etsy: EtsyAdapter, fakes: FakesProcess
) -> None:
    it = intent(payload())
    progress = InMemoryProgress()
    fakes.set_faults({"provider": "etsy", "kind": "status", "status": 500, "method": "POST"})
    assert run(etsy, it, progress).outcome is Outcome.MAYBE_EFFECT
    assert etsy.lookup(it, progress.state).status is LookupStatus.NOT_FOUND
    assert run(etsy, it, progress).outcome is Outcome.SUCCEEDED
    only_listing(fakes)


@pytest.mark.parametrize(
    ("fault", "outcome"),
    [
        ({"kind": "status_after_commit", "status": 503}, Outcome.MAYBE_EFFECT),
        ({"kind": "lost_response"}, Outcome.MAYBE_EFFECT),
        ({"kind": "status", "status": 502}, Outcome.MAYBE_EFFECT),
        ({"kind": "rate_limit"}, Outcome.NO_EFFECT),
    ],
)
@pytest.mark.parametrize("where", ["/images", "PATCH"])
def test_faults_after_the_draft_resume_to_one_listing(
    etsy: EtsyAdapter, fakes: FakesProcess, fault: dict[str, Any], outcome: Outcome, where: str
) -> None:
    it = intent(payload(images=2))
    progress = InMemoryProgress()
    match = {"method": "PATCH"} if where == "PATCH" else {"path_contains": where}
    fakes.set_faults({"provider": "etsy", **fault, **match})
    first = run(etsy, it, progress)
    assert first.outcome is outcome, first
    listing_id = progress.state["listing_id"]
    assert first.summary["listing_id"] == listing_id
    if outcome is Outcome.NO_EFFECT:
        assert first.retry_after_seconds == 1.0
    else:
        found = etsy.lookup(it, progress.state)
        assert (found.status, found.provider_object_id) in {
            (LookupStatus.IN_PROGRESS, str(listing_id)),
            (LookupStatus.FOUND, str(listing_id)),  # the publish landed before its answer was lost
        }
        if found.status is LookupStatus.FOUND:
            return
    result = run(etsy, it, progress)
    assert result.outcome is Outcome.SUCCEEDED, result
    listing = only_listing(fakes)
    assert listing["listing_id"] == listing_id
    assert listing["state"] == "active"
    assert sorted(i["rank"] for i in listing["images"]) == [1, 2]  # overwrite: no duplicates


def test_etsy_errors_are_kept_and_permanent(
    etsy: EtsyAdapter, fakes: FakesProcess, media: Path
) -> None:
    fakes.set_faults(
        {
            "provider": "etsy",
            "kind": "status",
            "status": 400,
            "method": "POST",
            "body": {"error": "Invalid taxonomy_id"},
        }
    )
    result = run(etsy, intent(payload()), InMemoryProgress())
    assert (result.outcome, result.status_code) == (Outcome.PERMANENT, 400)
    assert result.error == "HTTP 400: Invalid taxonomy_id"
    assert result.summary["response"] == {"error": "Invalid taxonomy_id"}
    # A key without the shared secret: the fake's own 403 and error text.
    with make_adapter(fakes, media, secret="") as bare:
        refused = run(bare, intent(payload()), InMemoryProgress())
    assert (refused.outcome, refused.status_code) == (Outcome.PERMANENT, 403)
    assert "keystring:shared_secret" in (refused.error or "")
    assert refused.summary["response"] == {"error": (refused.error or "").split(": ", 1)[1]}
    assert fakes.effects("etsy") == []


def test_nothing_is_sent_without_the_secret_or_with_changed_media(
    fakes: FakesProcess, media: Path
) -> None:
    fakes.reset()
    with make_adapter(fakes, media, secret=None) as unset:
        result = run(unset, intent(payload()), InMemoryProgress())
    assert result.outcome is Outcome.PERMANENT
    assert "AUTOPACK_ETSY_SHARED_SECRET" in (result.error or "")
    (media / "examples" / "etsy" / "listing.create" / "image.png").write_bytes(b"\x89PNG changed")
    with make_adapter(fakes, media) as adapter:
        progress = InMemoryProgress()
        changed = run(adapter, intent(payload()), progress)
    assert changed.outcome is Outcome.PERMANENT
    assert "nothing sent" in (changed.error or "")
    assert progress.notes == []
    assert fakes.effects("etsy") == []


def test_429_per_second_and_per_day(etsy: EtsyAdapter, fakes: FakesProcess) -> None:
    it = intent(payload())
    fakes.set_faults({"provider": "etsy", "kind": "rate_limit", "scope": "day"})
    progress = InMemoryProgress()
    result = run(etsy, it, progress)
    assert (result.outcome, result.status_code) == (Outcome.NO_EFFECT, 429)
    assert result.retry_after_seconds == etsy_adapter.DAILY_RETRY_SECONDS
    assert result.summary["rate_limit"]["x-remaining-today"] == "0"
    # The daily quota is spent: this adapter sends nothing until it frees.
    again = run(etsy, it, progress)
    assert again.outcome is Outcome.NO_EFFECT
    assert again.status_code is None
    assert 0 < (again.retry_after_seconds or 0) <= etsy_adapter.DAILY_RETRY_SECONDS
    assert fakes.effects("etsy") == []


def test_a_spent_daily_quota_stops_between_steps_and_resumes_later(
    fakes: FakesProcess, media: Path
) -> None:
    fakes.reset()
    clock = [1000.0]
    it = intent(payload())
    progress = InMemoryProgress()
    with make_adapter(fakes, media, monotonic=lambda: clock[0]) as adapter:
        fakes.set_faults({"provider": "etsy", "kind": "quota_exhausted", "method": "POST"})
        stopped = run(adapter, it, progress)
        assert stopped.outcome is Outcome.NO_EFFECT
        assert stopped.retry_after_seconds == etsy_adapter.DAILY_RETRY_SECONDS
        assert "x-remaining-today: 0" in (stopped.error or "")
        assert only_listing(fakes)["images"] == []  # the draft only; no image was sent
        clock[0] += etsy_adapter.DAILY_RETRY_SECONDS
        done = run(adapter, it, progress)
    assert done.outcome is Outcome.SUCCEEDED, done
    assert only_listing(fakes)["state"] == "active"


def test_a_spent_second_waits_before_the_next_request(fakes: FakesProcess, media: Path) -> None:
    fakes.reset()
    slept: list[float] = []
    with make_adapter(fakes, media, monotonic=lambda: 50.0, sleep=slept.append) as adapter:
        fakes.set_faults({"provider": "etsy", "kind": "quota_exhausted", "scope": "second"})
        result = run(adapter, intent(payload()), InMemoryProgress())
    assert result.outcome is Outcome.SUCCEEDED
    assert slept == [1.0]  # once, before the request after the spent second


def test_transport_failures(fakes: FakesProcess, media: Path) -> None:
    fakes.reset()
    dead = EtsyAdapter(
        "http://127.0.0.1:9/v3/application",
        keystring="k",
        shared_secret=SecretStr(SECRET),
        credentials=StaticToken(),
        media_root=media,
    )
    with dead:
        progress = InMemoryProgress()
        result = run(dead, intent(payload()), progress)
        assert result.outcome is Outcome.NO_EFFECT  # connection refused: nothing left
        assert dead.lookup(intent(payload()), progress.state).status is LookupStatus.UNAVAILABLE
        assert dead.lookup(intent(payload()), {"listing_id": 5}).status is LookupStatus.UNAVAILABLE
    with make_adapter(fakes, media, timeout=0.5) as slow:
        fakes.set_faults({"provider": "etsy", "kind": "delay", "seconds": 2, "method": "POST"})
        timed_out = run(slow, intent(payload()), InMemoryProgress())
    assert timed_out.outcome is Outcome.MAYBE_EFFECT


def test_lookup_of_a_deleted_listing_asks_a_person(etsy: EtsyAdapter, fakes: FakesProcess) -> None:
    it = intent(payload())
    result = etsy.lookup(it, {"listing_id": 999, "images_done": 1})
    assert result.status is LookupStatus.UNSUPPORTED
    assert "a person decides" in (result.error or "")
    fakes.set_faults({"provider": "etsy", "kind": "status", "status": 503, "method": "GET"})
    assert etsy.lookup(it, {}).status is LookupStatus.UNAVAILABLE


def test_the_secrets_travel_only_in_headers(fakes: FakesProcess, media: Path) -> None:
    """The fake accepts only keystring:shared_secret and a bearer token: a success
    proves both were sent; neither is in the render, the state or the result."""
    fakes.reset()
    with make_adapter(fakes, media) as adapter:
        it = intent(payload())
        progress = InMemoryProgress()
        result = run(adapter, it, progress)
        text = json.dumps([adapter.render(it).to_dict(), progress.state, dict(result.summary)])
    assert result.outcome is Outcome.SUCCEEDED
    for secret in (SECRET, TOKEN):
        assert secret not in text


def test_the_transport_seam_is_used(media: Path) -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json={"listing_id": 77}, headers={"x-remaining-today": "5"})

    with EtsyAdapter(
        "https://api.etsy.com/v3/application",
        keystring="k",
        shared_secret=SecretStr(SECRET),
        credentials=StaticToken(),
        media_root=media,
        transport=httpx.MockTransport(answer),
    ) as adapter:
        it = intent(payload(publish=False, images=0))
        result = run(adapter, it, InMemoryProgress())
    assert (result.outcome, result.provider_object_id) == (Outcome.SUCCEEDED, "77")
    (request,) = seen
    assert request.headers["x-api-key"] == f"k:{SECRET}"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.content == str(adapter.render(it).body).encode()
