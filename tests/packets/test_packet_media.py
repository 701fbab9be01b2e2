"""A packet's media bytes over HTTP (the console's preview): served only from the
packet's own entries, only in the fixed preview types, only when the bytes still
hash to the packet's SHA-256; the action detail names the packet of a packet
payload."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from autopack.api.app import create_app
from autopack.services.context import Runtime
from autopack.services.packet_refs import packet_service
from console_support import png_image

KEY = {"X-API-Key": "test-key-" + "k" * 40}
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(range(256)) * 8
QUICKTIME = b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  " + bytes(range(256)) * 4
PNG = png_image()
ETSY_SPEC = {
    "provider": "etsy",
    "action": "listing.create",
    "fields": {"title": "Mug", "description": "Stoneware."},
    "disclosures": {"who_made": "i_did", "when_made": "2020_2026"},
}
YOUTUBE_SPEC = {
    "provider": "youtube",
    "action": "video.upload",
    "fields": {"title": "Clay mug timelapse", "privacyStatus": "private"},
    "disclosures": {"containsSyntheticMedia": False, "selfDeclaredMadeForKids": False},
}


def _build(runtime: Runtime, workspace: Path, spec: dict[str, Any], media: dict[str, bytes]) -> Any:
    folder = workspace / "in"
    folder.mkdir(exist_ok=True)
    spec_path = folder / f"{spec['provider']}-spec.json"
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    files = []
    for name, data in media.items():
        (folder / name).write_bytes(data)
        files.append(folder / name)
    return packet_service(runtime).build(spec_path, files)


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime=runtime), raise_server_exceptions=False) as test_client:
        yield test_client


def _media(client: TestClient, packet_id: str, name: str) -> Any:
    return client.get(f"/api/packets/{packet_id}/media/{name}", headers=KEY)


def test_media_is_served_with_its_type_nosniff_and_its_hash(
    runtime: Runtime, workspace: Path, client: TestClient
) -> None:
    listing = _build(runtime, workspace, ETSY_SPEC, {"front.png": PNG})
    video = _build(runtime, workspace, YOUTUBE_SPEC, {"clip.mp4": MP4})
    for packet, name, data, content_type in (
        (listing, "front.png", PNG, "image/png"),
        (video, "clip.mp4", MP4, "video/mp4"),
    ):
        answer = _media(client, packet.packet_id, name)
        assert answer.status_code == 200, answer.text
        assert answer.content == data
        assert answer.headers["content-type"] == content_type
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["content-length"] == str(len(data))
        assert answer.headers["x-autopack-media-sha256"] == hashlib.sha256(data).hexdigest()
        assert "no-store" in answer.headers["cache-control"]
    assert client.get(f"/api/packets/{listing.packet_id}/media/front.png").status_code == 401


def test_a_changed_file_is_a_409_and_never_served(
    runtime: Runtime, workspace: Path, client: TestClient
) -> None:
    listing = _build(runtime, workspace, ETSY_SPEC, {"front.png": PNG})
    target = workspace / "in" / "front.png"
    swapped = png_image(rgb=(200, 0, 0))  # same size, other bytes
    assert len(swapped) == len(PNG)
    for changed in (swapped, PNG + b"trailing bytes", PNG[:-4]):
        target.write_bytes(changed)
        answer = _media(client, listing.packet_id, "front.png")
        assert answer.status_code == 409, answer.text
        assert answer.headers["content-type"] == "application/json"
        error = answer.json()["error"]
        assert error["code"] == "media_changed"
        assert error["details"]["recorded_sha256"] == hashlib.sha256(PNG).hexdigest()
        assert changed not in answer.content
    target.write_bytes(PNG)  # the recorded bytes again: served again
    assert _media(client, listing.packet_id, "front.png").content == PNG
    target.unlink()
    missing = _media(client, listing.packet_id, "front.png")
    assert (missing.status_code, missing.json()["error"]["code"]) == (400, "media_unreadable")


def test_names_come_from_the_packet_never_from_a_path(
    runtime: Runtime, workspace: Path, client: TestClient, tmp_path: Path
) -> None:
    listing = _build(runtime, workspace, ETSY_SPEC, {"front.png": PNG})
    (workspace / "in" / "secret.png").write_bytes(PNG)
    for name in ("secret.png", "..%2Fin%2Fsecret.png", "..%2F..%2Fetc%2Fpasswd", "in%2Ffront.png"):
        answer = _media(client, listing.packet_id, name)
        assert answer.status_code in (404, 422), (name, answer.status_code)
        if answer.status_code == 404:
            assert answer.json()["error"]["code"] in ("media_not_in_packet", "route_not_found")
    named = _media(client, listing.packet_id, "secret.png")
    assert (named.status_code, named.json()["error"]["code"]) == (404, "media_not_in_packet")
    too_long = _media(client, listing.packet_id, "x" * 121)
    assert too_long.status_code == 422
    # The recorded file replaced by a symlink leading out of the workspace, with the
    # very bytes recorded: still refused.
    outside = tmp_path / "outside.png"
    outside.write_bytes(PNG)
    target = workspace / "in" / "front.png"
    target.unlink()
    target.symlink_to(outside)
    escaped = _media(client, listing.packet_id, "front.png")
    assert (escaped.status_code, escaped.json()["error"]["code"]) == (400, "invalid_media_ref")
    for bad_id, status, code in (
        ("not-hex", 400, "invalid_packet"),
        ("0" * 64, 404, "packet_not_found"),
    ):
        answer = _media(client, bad_id, "front.png")
        assert (answer.status_code, answer.json()["error"]["code"]) == (status, code)


def test_only_the_fixed_preview_types_are_served(
    runtime: Runtime, workspace: Path, client: TestClient
) -> None:
    video = _build(runtime, workspace, YOUTUBE_SPEC, {"clip.mov": QUICKTIME})
    assert video.document["media"][0]["content_type"] == "video/quicktime"
    answer = _media(client, video.packet_id, "clip.mov")
    assert (answer.status_code, answer.json()["error"]["code"]) == (400, "media_not_previewable")
    assert QUICKTIME not in answer.content


def test_the_action_detail_names_the_packet_of_a_packet_payload(
    runtime: Runtime, workspace: Path, client: TestClient
) -> None:
    video = _build(runtime, workspace, YOUTUBE_SPEC, {"clip.mp4": MP4})
    proposed = client.post(
        "/api/actions",
        headers=KEY,
        json={
            "provider": "youtube",
            "action": "video.upload",
            "key": "clip-1",
            "account": "chan",
            "payload_json": json.dumps(video.document),
        },
    )
    # A multi-request render (the upload session, then the bytes) is answered whole.
    assert proposed.status_code == 201, proposed.text
    steps = proposed.json()["render"]["steps"]
    assert [s["method"] for s in steps] == ["PUT"]
    assert steps[0]["body"]["sha256"] == hashlib.sha256(MP4).hexdigest()
    detail = client.get("/api/actions/clip-1", headers=KEY).json()
    assert detail["packet_id"] == video.packet_id
    assert detail["render"]["steps"] == steps
    plain = client.post(
        "/api/actions",
        headers=KEY,
        json={
            "provider": "sandbox",
            "action": "video.upload",
            "key": "plain-1",
            "account": "main",
            "payload_json": json.dumps({"title": "x"}),
        },
    )
    assert plain.status_code == 201, plain.text
    plain_detail = client.get("/api/actions/plain-1", headers=KEY).json()
    assert plain_detail["packet_id"] is None
    assert (plain_detail["render"]["steps"], plain_detail["render"]["encoding"]) == ([], "json")
