"""Our initiate request against YouTube's own published definition: the discovery
document shipped in google-api-python-client (``youtube.videos.insert`` and the
``Video`` schema), and the request that library itself builds for the same call."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import googleapiclient
import pytest
from googleapiclient.discovery import build_from_document
from googleapiclient.http import HttpMock, MediaIoBaseUpload

from autopack.providers._media import MAX_MEDIA_BYTES
from autopack.providers.youtube import CREDENTIAL_PROFILE
from autopack.providers.youtube.adapter import YouTubeAdapter
from autopack.providers.youtube.video import PRIVACY_STATUSES
from youtube.yt_support import QUANTUM, StaticToken, intent, payload

DOCUMENT = (
    Path(googleapiclient.__file__).parent / "discovery_cache" / "documents" / "youtube.v3.json"
)
MEDIA: dict[str, Any] = {
    "path": "clip.mp4",
    "size": 5 * QUANTUM,
    "sha256": "cd" * 32,
    "content_type": "video/mp4",
}


@pytest.fixture(scope="module")
def discovery() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DOCUMENT.read_text(encoding="utf-8"))
    return loaded


def _rendered(**changes: Any) -> Any:
    adapter = YouTubeAdapter(
        api_url="https://www.googleapis.com",
        chunk_bytes=QUANTUM,
        quota_cost_insert=100,
        quota_cost_list=1,
        credentials=StaticToken(),
        media_root=Path(),
        clock=lambda: datetime(2026, 1, 1, tzinfo=UTC),
    )
    return adapter.render(intent(payload(MEDIA, **changes)))


def _check_against_schema(
    value: Any, schema: dict[str, Any], schemas: dict[str, Any], where: str
) -> None:
    if "$ref" in schema:
        schema = schemas[schema["$ref"]]
    kind = schema.get("type")
    if kind == "object":
        assert isinstance(value, dict), where
        properties = schema.get("properties", {})
        for key, item in value.items():
            assert key in properties, f"{where}.{key} is not in the schema"
            _check_against_schema(item, properties[key], schemas, f"{where}.{key}")
    elif kind == "array":
        assert isinstance(value, list), where
        for n, item in enumerate(value):
            _check_against_schema(item, schema["items"], schemas, f"{where}[{n}]")
    elif kind == "string":
        assert isinstance(value, str), where
        if "enum" in schema:
            assert value in schema["enum"], where
        if schema.get("format") == "date-time":
            datetime.fromisoformat(value.replace("Z", "+00:00"))
    elif kind == "boolean":
        assert isinstance(value, bool), where
    else:
        raise AssertionError(f"{where}: unexpected schema type {kind}")


def test_the_initiate_path_method_and_media_rules_are_videos_insert(
    discovery: dict[str, Any],
) -> None:
    method = discovery["resources"]["videos"]["methods"]["insert"]
    rendered = _rendered()
    url = urlsplit(rendered.url)
    assert rendered.method == method["httpMethod"] == "POST"
    # googleapiclient sends resumable uploads to the "simple" media path with
    # uploadType=resumable, as Google's resumable-upload guide does.
    assert url.path == method["mediaUpload"]["protocols"]["simple"]["path"]
    accept = method["mediaUpload"]["accept"]
    assert "video/*" in accept
    assert "application/octet-stream" in accept
    assert int(method["mediaUpload"]["maxSize"]) == MAX_MEDIA_BYTES
    assert CREDENTIAL_PROFILE.scopes[0] in method["scopes"]


def test_the_query_parameters_are_declared(discovery: dict[str, Any]) -> None:
    method = discovery["resources"]["videos"]["methods"]["insert"]
    declared = {**discovery["parameters"], **method["parameters"]}
    query = parse_qs(urlsplit(_rendered().url).query, strict_parsing=True)
    assert set(query) <= set(declared)
    assert set(method["parameterOrder"]) <= set(query)  # every required parameter
    assert query["uploadType"] == ["resumable"]
    assert "resumable" in method["mediaUpload"]["protocols"]
    parts = query["part"][0].split(",")
    video_fields = discovery["schemas"]["Video"]["properties"]
    assert parts == ["snippet", "status"]
    assert all(part in video_fields for part in parts)
    assert re.search(r"part=snippet%2Cstatus", _rendered().url)


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"publishAt": "2026-12-24T18:00:00Z"},
        {"tags": None, "categoryId": None, "description": None},
        *({"privacyStatus": status} for status in sorted(PRIVACY_STATUSES)),
    ],
)
def test_the_body_fits_the_video_schema(discovery: dict[str, Any], changes: Any) -> None:
    schemas = discovery["schemas"]
    if changes.get("privacyStatus", "private") != "private":
        changes = {**changes, "publishAt": None}
    body = _rendered(**changes).body
    _check_against_schema(body, {"$ref": "Video"}, schemas, "video")
    status = schemas["VideoStatus"]["properties"]
    assert set(status["privacyStatus"]["enum"]) == PRIVACY_STATUSES
    for required in ("privacyStatus", "selfDeclaredMadeForKids", "containsSyntheticMedia"):
        assert required in body["status"]


def test_googleapiclient_builds_the_same_initiate() -> None:
    """The official library, given the same call, builds the same method, path,
    query parameters and body (its own extra: alt=json)."""
    service = build_from_document(
        DOCUMENT.read_text(encoding="utf-8"), http=HttpMock(None, {"status": "200"})
    )
    rendered = _rendered()
    media = MediaIoBaseUpload(
        io.BytesIO(b"\0" * 16), mimetype=MEDIA["content_type"], resumable=True, chunksize=QUANTUM
    )
    theirs = service.videos().insert(part="snippet,status", body=rendered.body, media_body=media)
    ours_url, their_url = urlsplit(rendered.url), urlsplit(theirs.uri)
    assert theirs.method == rendered.method
    assert their_url.path == ours_url.path
    their_query = parse_qs(their_url.query)
    their_query.pop("alt")
    assert their_query == parse_qs(ours_url.query)
    assert json.loads(theirs.body) == rendered.body
    assert (
        theirs.headers["content-type"].split(";")[0]
        == (rendered.headers["Content-Type"].split(";")[0])
    )
