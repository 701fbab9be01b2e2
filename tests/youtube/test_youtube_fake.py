"""The YouTube fake over real HTTP: the resumable upload's paths, headers, status
codes and Google's error shape; the list calls reconciliation reads; its own
faults; durability across a SIGKILL of the fakes process."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from fakes_support import FakesProcess
from youtube.yt_support import ACCESS_TOKEN, QUANTUM

AUTH = {"Authorization": f"Bearer {ACCESS_TOKEN}"}
RESOURCE = {
    "snippet": {"title": "t", "description": "d"},
    "status": {"privacyStatus": "private", "selfDeclaredMadeForKids": False},
}


@pytest.fixture
def http(fake: FakesProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fake.url, timeout=10, trust_env=False) as client:
        yield client


def _error(response: httpx.Response, status: int, reason: str) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == status
    assert error["errors"][0]["reason"] == reason
    assert isinstance(error["message"], str)


def _initiate(http: httpx.Client, size: int, **changes: Any) -> httpx.Response:
    headers = {
        **AUTH,
        "X-Upload-Content-Length": str(size),
        "X-Upload-Content-Type": "video/mp4",
        **changes.pop("headers", {}),
    }
    query = changes.pop("query", "uploadType=resumable&part=snippet%2Cstatus")
    return http.post(
        f"/upload/youtube/v3/videos?{query}",
        json=changes.pop("body", RESOURCE),
        headers=headers,
    )


def _session(http: httpx.Client, size: int) -> str:
    opened = _initiate(http, size)
    assert opened.status_code == 200, opened.text
    return opened.headers["Location"]


def _put(http: httpx.Client, session: str, data: bytes, first: int, total: int) -> httpx.Response:
    return http.put(
        session,
        content=data,
        headers={
            **AUTH,
            "Content-Range": f"bytes {first}-{first + len(data) - 1}/{total}",
            "Content-Type": "video/mp4",
        },
    )


def _status(http: httpx.Client, session: str, total: int) -> httpx.Response:
    return http.put(session, headers={**AUTH, "Content-Range": f"bytes */{total}"})


def test_initiate_answers_200_with_a_session_uri(http: httpx.Client, fake: FakesProcess) -> None:
    opened = _initiate(http, 1000)
    assert opened.status_code == 200
    location = httpx.URL(opened.headers["Location"])
    assert location.path == "/upload/youtube/v3/videos"
    assert location.params["uploadType"] == "resumable"
    assert location.params["part"] == "snippet,status"
    assert location.params["upload_id"] == opened.headers["X-GUploader-UploadID"]
    assert opened.content == b""


@pytest.mark.parametrize(
    ("changes", "status", "reason"),
    [
        ({"query": "part=snippet"}, 400, "badRequest"),
        ({"query": "uploadType=resumable"}, 400, "required"),
        ({"headers": {"X-Upload-Content-Length": "lots"}}, 400, "badRequest"),
        ({"headers": {"X-Upload-Content-Type": "image/png"}}, 400, "invalidContentType"),
        ({"body": {"snippet": {"title": "x" * 101}}}, 400, "invalidTitle"),
        ({"body": {"snippet": {"title": "a<b"}}}, 400, "invalidTitle"),
        (
            {"body": {"snippet": {"title": "t", "description": "d" * 5001}}},
            400,
            "invalidDescription",
        ),
        ({"body": {"snippet": {"title": "t", "categoryId": "music"}}}, 400, "invalidCategoryId"),
        (
            {
                "body": {
                    "snippet": {"title": "t"},
                    "status": {"privacyStatus": "public", "publishAt": "2027-01-01T00:00:00Z"},
                }
            },
            400,
            "invalidPublishAt",
        ),
        ({"body": {"snippet": {"title": "t"}, "recordingDetails": {}}}, 400, "unexpectedPart"),
        ({"headers": {"Authorization": "Basic abc"}}, 401, "required"),
    ],
)
def test_initiate_refusals_have_google_s_shape(
    http: httpx.Client, fake: FakesProcess, changes: dict[str, Any], status: int, reason: str
) -> None:
    _error(_initiate(http, 1000, **changes), status, reason)
    assert fake.control("GET", "/youtube/sessions")["sessions"] == []


def test_chunks_308_with_range_then_201_with_the_video(
    http: httpx.Client, fake: FakesProcess
) -> None:
    data = bytes(range(256)) * (2 * QUANTUM // 256) + b"tail"
    total = len(data)
    session = _session(http, total)
    first = _status(http, session, total)
    assert first.status_code == 308
    assert "Range" not in first.headers  # nothing received yet
    _error(_put(http, session, data[: QUANTUM - 1], 0, total), 400, "badRequest")  # not 256 KiB
    kept = _put(http, session, data[:QUANTUM], 0, total)
    assert (kept.status_code, kept.headers["Range"]) == (308, f"bytes=0-{QUANTUM - 1}")
    # An overlapping resend: the session keeps only the bytes it did not have.
    again = _put(http, session, data[: 2 * QUANTUM], 0, total)
    assert again.headers["Range"] == f"bytes=0-{2 * QUANTUM - 1}"
    _error(_put(http, session, b"x" * 4, total - 2, total), 400, "badRequest")
    done = _put(http, session, data[2 * QUANTUM :], 2 * QUANTUM, total)
    assert done.status_code == 201
    video = done.json()
    assert video["kind"] == "youtube#video"
    assert video["snippet"]["title"] == "t"
    assert video["snippet"]["channelId"].startswith("UC")
    assert video["status"]["uploadStatus"] == "uploaded"
    assert video["status"]["privacyStatus"] == "private"
    queried = _status(http, session, total)
    assert (queried.status_code, queried.json()["id"]) == (200, video["id"])
    (effect,) = fake.effects("youtube")
    assert effect["sha256"] == hashlib.sha256(data).hexdigest()
    assert effect["id"] == video["id"]


def test_an_unknown_or_expired_session_is_404_or_410(
    http: httpx.Client, fake: FakesProcess
) -> None:
    session = _session(http, QUANTUM)
    unknown = session.replace("upload_id=", "upload_id=nope")
    _error(_status(http, unknown, QUANTUM), 404, "notFound")
    fake.control("POST", "/youtube/expire_sessions", {"status": 410})
    _error(_status(http, session, QUANTUM), 410, "notFound")
    _error(_put(http, session, b"\0" * QUANTUM, 0, QUANTUM), 410, "notFound")
    assert fake.effects("youtube") == []


def test_own_faults_partial_range_expiry_quota(http: httpx.Client, fake: FakesProcess) -> None:
    total = 2 * QUANTUM
    session = _session(http, total)
    fake.set_faults({"provider": "youtube", "kind": "partial_range", "drop_bytes": 1000})
    short = _put(http, session, b"\1" * QUANTUM, 0, total)
    assert short.headers["Range"] == f"bytes=0-{QUANTUM - 1000 - 1}"
    fake.set_faults({"provider": "youtube", "kind": "quota_exceeded"})
    quota = _initiate(http, 10)
    _error(quota, 403, "quotaExceeded")
    assert quota.json()["error"]["errors"][0]["domain"] == "youtube.quota"
    fake.set_faults({"provider": "youtube", "kind": "upload_limit_exceeded"})
    _error(_initiate(http, 10), 400, "uploadLimitExceeded")
    fake.set_faults({"provider": "youtube", "kind": "session_expired", "status": 410})
    _error(_status(http, session, total), 410, "notFound")
    _error(_status(http, session, total), 410, "notFound")  # for good
    assert len(fake.control("GET", "/youtube/sessions")["sessions"]) == 1


def _video(http: httpx.Client, n: int) -> str:
    session = _session(http, QUANTUM)
    done = _put(http, session, bytes([n]) * QUANTUM, 0, QUANTUM)
    assert done.status_code == 201
    video_id: str = done.json()["id"]
    return video_id


def test_the_uploads_playlist_pages_newest_first(http: httpx.Client, fake: FakesProcess) -> None:
    ids = [_video(http, n) for n in range(3)]
    channels = http.get(
        "/youtube/v3/channels", params={"part": "contentDetails", "mine": "true"}, headers=AUTH
    )
    uploads = channels.json()["items"][0]["contentDetails"]["relatedPlaylists"]["uploads"]
    assert uploads.startswith("UU")
    params = {"part": "snippet", "playlistId": uploads, "maxResults": "2"}
    first = http.get("/youtube/v3/playlistItems", params=params, headers=AUTH).json()
    assert [i["snippet"]["resourceId"]["videoId"] for i in first["items"]] == ids[::-1][:2]
    assert first["pageInfo"]["totalResults"] == 3
    second = http.get(
        "/youtube/v3/playlistItems",
        params={**params, "pageToken": first["nextPageToken"]},
        headers=AUTH,
    ).json()
    assert [i["snippet"]["resourceId"]["videoId"] for i in second["items"]] == [ids[0]]
    assert "nextPageToken" not in second
    listed = http.get(
        "/youtube/v3/videos",
        params={"part": "snippet,status", "id": f"{ids[1]},nope"},
        headers=AUTH,
    ).json()
    assert [v["id"] for v in listed["items"]] == [ids[1]]
    _error(
        http.get(
            "/youtube/v3/playlistItems", params={**params, "playlistId": "UUother"}, headers=AUTH
        ),
        404,
        "playlistNotFound",
    )
    _error(
        http.get("/youtube/v3/playlistItems", params={**params, "maxResults": "51"}, headers=AUTH),
        400,
        "invalidValue",
    )
    _error(
        http.get("/youtube/v3/playlistItems", params={**params, "pageToken": "!!"}, headers=AUTH),
        400,
        "invalidPageToken",
    )
    _error(
        http.get("/youtube/v3/channels", params={"part": "contentDetails"}, headers=AUTH),
        400,
        "missingRequiredParameter",
    )


def test_acknowledged_bytes_survive_a_sigkill_of_the_fakes(fake: FakesProcess) -> None:
    data = hashlib.sha256(b"seed").digest() * (3 * QUANTUM // 32)
    total = len(data)
    with httpx.Client(base_url=fake.url, timeout=10, trust_env=False) as http:
        session = _session(http, total)
        assert _put(http, session, data[: 2 * QUANTUM], 0, total).status_code == 308
    fake.kill()
    fake.restart()
    with httpx.Client(base_url=fake.url, timeout=10, trust_env=False) as http:
        asked = _status(http, session, total)
        assert asked.headers["Range"] == f"bytes=0-{2 * QUANTUM - 1}"
        done = _put(http, session, data[2 * QUANTUM :], 2 * QUANTUM, total)
        assert done.status_code == 201
    (effect,) = fake.effects("youtube")
    assert effect["sha256"] == hashlib.sha256(data).hexdigest()
    assert fake.stderr_problems() == []
