"""The YouTube Data API v3 fake: resumable ``videos.insert`` and the list calls
that reconciliation reads.

Wire (as ``shared/providers.md`` section 1 and Google's resumable upload guide):

    POST /upload/youtube/v3/videos?uploadType=resumable&part=snippet,status
         Authorization: Bearer ..., JSON video resource, X-Upload-Content-Length,
         X-Upload-Content-Type  -> 200, Location: <session URI> (an upload_id)
    PUT  <session URI>  Content-Range: bytes A-B/TOTAL + bytes
         -> 308 Range: bytes=0-N (more wanted) | 201 + video resource (complete)
    PUT  <session URI>  Content-Length: 0, Content-Range: bytes */TOTAL
         -> 308 (+ Range when any byte is kept) | 200 + video | 404/410 expired
    GET  /youtube/v3/channels?part=contentDetails&mine=true
    GET  /youtube/v3/playlistItems?part=snippet&playlistId=UU...&maxResults=..&pageToken=..
         (the uploads playlist, newest first, paged)
    GET  /youtube/v3/videos?part=...&id=a,b

Errors have Google's shape: ``{"error": {"code", "message", "errors": [{"message",
"domain", "reason"}]}}``. Durability: media bytes are appended to a blob and
fsync'd before a 308 (the blob's length is the session's received count, so a
chunk costs one fsync and no database commit); the
video is committed before the 200/201. Bodies are streamed to disk in pieces,
never buffered whole.

Own fault kinds (the host hands them to ``handle``):

    partial_range          a chunk PUT keeps ``drop_bytes`` (default 262144) fewer
                           bytes than were sent, and its 308 says so
    session_expired        the session expires now; this and every later PUT to it
                           gets ``status`` (404 default, or 410)
    quota_exceeded         403 quotaExceeded, nothing done
    upload_limit_exceeded  400 uploadLimitExceeded, nothing done

Control actions (``/_control/youtube/<action>``): ``expire_sessions`` (every open
session, ``{"status": 404|410}``), ``sessions`` (their state, for tests).
"""

from __future__ import annotations

import base64
import ctypes
import hashlib
import json
import os
import re
import sys
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

from autopack.fakes.protocol import FakeRequest, FakeResponse, Fault, json_response
from autopack.fakes.store import FakeStore

NAME: Final = "youtube"
UPLOAD_PATH: Final = "/upload/youtube/v3/videos"
API_PREFIX: Final = "/youtube/v3/"
QUANTUM: Final = 256 * 1024
PIECE: Final = 1024 * 1024
# Bytes received between two writeback starts (see ``_start_writeback``).
WRITEBACK_BYTES: Final = 8 * 1024 * 1024
MAX_UPLOAD_BYTES: Final = 274877906944  # the discovery document's maxSize (256 GiB)
CHANNEL_ID: Final = "UCautopackFakeChannel001"
UPLOADS_PLAYLIST: Final = "UU" + CHANNEL_ID[2:]
CHANNEL_TITLE: Final = "Autopack fake channel"
VIDEO_PARTS: Final = frozenset({"snippet", "status", "processingDetails", "contentDetails", "id"})
PRIVACY: Final = frozenset({"private", "public", "unlisted"})
_BEARER: Final = re.compile(r"Bearer [A-Za-z0-9._~+/\-=]+")
_MEDIA_TYPE: Final = re.compile(r"video/[a-z0-9.+\-]+|application/octet-stream")
_RANGE: Final = re.compile(r"bytes (\d+)-(\d+)/(\d+)")
_STATUS_RANGE: Final = re.compile(r"bytes \*/(\d+)")
SNIPPET_FIELDS: Final = frozenset(
    {"title", "description", "tags", "categoryId", "defaultLanguage", "defaultAudioLanguage"}
)
STATUS_FIELDS: Final = frozenset(
    {
        "privacyStatus",
        "publishAt",
        "selfDeclaredMadeForKids",
        "containsSyntheticMedia",
        "license",
        "embeddable",
        "publicStatsViewable",
    }
)


def google_error(
    status: int, reason: str, message: str, domain: str = "youtube.video"
) -> FakeResponse:
    return json_response(
        status,
        {
            "error": {
                "code": status,
                "message": message,
                "errors": [{"message": message, "domain": domain, "reason": reason}],
            }
        },
    )


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _bad(reason: str, message: str) -> _RefusedError:
    return _RefusedError(google_error(400, reason, message))


class _RefusedError(Exception):
    def __init__(self, response: FakeResponse) -> None:
        super().__init__(response.status)
        self.response = response


class YouTubeFake:
    """The fake; thread-safe (one lock per upload session while its bytes stream)."""

    def __init__(self, store: FakeStore) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._session_locks: dict[str, threading.Lock] = {}

    @property
    def name(self) -> str:
        return NAME

    @property
    def prefixes(self) -> tuple[str, ...]:
        return (UPLOAD_PATH, API_PREFIX)

    # -- dispatch ----------------------------------------------------------------------

    def handle(self, request: FakeRequest, fault: Fault | None) -> FakeResponse:
        try:
            return self._route(request, fault)
        except _RefusedError as refused:
            return refused.response

    def _route(self, request: FakeRequest, fault: Fault | None) -> FakeResponse:
        if fault is not None and fault.kind in ("quota_exceeded", "upload_limit_exceeded"):
            _drain(request)
            if fault.kind == "quota_exceeded":
                return google_error(
                    403,
                    "quotaExceeded",
                    "The request cannot be completed because you have exceeded your quota.",
                    domain="youtube.quota",
                )
            return google_error(
                400,
                "uploadLimitExceeded",
                "The user has exceeded the number of videos they may upload.",
                domain="youtube.video",
            )
        self._authorize(request)
        if request.path == UPLOAD_PATH:
            if request.method == "POST":
                return self._initiate(request)
            if request.method == "PUT":
                return self._put(request, fault)
        if request.method == "GET":
            resource = (
                request.path[len(API_PREFIX) :] if request.path.startswith(API_PREFIX) else ""
            )
            if resource == "channels":
                return self._channels(request)
            if resource == "playlistItems":
                return self._playlist_items(request)
            if resource == "videos":
                return self._videos(request)
        _drain(request)
        return google_error(404, "notFound", f"{request.method} {request.path} not found", "global")

    def _authorize(self, request: FakeRequest) -> None:
        if not _BEARER.fullmatch(request.headers.get("authorization", "")):
            _drain(request)
            raise _RefusedError(
                json_response(
                    401,
                    {
                        "error": {
                            "code": 401,
                            "message": "Request is missing required authentication credential.",
                            "errors": [
                                {
                                    "message": "Login Required.",
                                    "domain": "global",
                                    "reason": "required",
                                    "location": "Authorization",
                                    "locationType": "header",
                                }
                            ],
                            "status": "UNAUTHENTICATED",
                        }
                    },
                )
            )

    # -- initiate ----------------------------------------------------------------------

    def _initiate(self, request: FakeRequest) -> FakeResponse:
        if request.param("uploadType") != "resumable":
            _drain(request)
            return google_error(400, "badRequest", "uploadType must be resumable", "global")
        parts = set((request.param("part") or "").split(","))
        if not parts - {""}:
            _drain(request)
            return google_error(400, "required", "Required parameter: part", "global")
        if not request.headers.get("content-type", "").startswith("application/json"):
            _drain(request)
            return google_error(400, "badContent", "the video resource must be JSON", "global")
        size_text = request.headers.get("x-upload-content-length", "")
        if not size_text.isdigit() or not 0 < int(size_text) <= MAX_UPLOAD_BYTES:
            _drain(request)
            return google_error(
                400, "badRequest", "X-Upload-Content-Length must be the media size", "global"
            )
        media_type = request.headers.get("x-upload-content-type", "")
        if not _MEDIA_TYPE.fullmatch(media_type):
            _drain(request)
            return google_error(
                400,
                "invalidContentType",
                "X-Upload-Content-Type must be video/* or application/octet-stream",
                "youtube.video",
            )
        try:
            body = request.json()
        except ValueError:
            return google_error(400, "parseError", "Parse Error", "global")
        resource = self._validated_resource(body, parts)
        upload_id = self._new_id("upload", 24)
        self._store.put(
            NAME,
            "session",
            upload_id,
            {
                "id": upload_id,
                "resource": resource,
                "total": int(size_text),
                "content_type": media_type,
                "state": "open",
                "expired_status": None,
                "video_id": None,
                "created": _now(),
            },
        )
        host = request.headers.get("host", "127.0.0.1")
        part = quote(request.param("part") or "", safe="")
        location = (
            f"http://{host}{UPLOAD_PATH}?uploadType=resumable&part={part}&upload_id={upload_id}"
        )
        return FakeResponse(200, b"", {"Location": location, "X-GUploader-UploadID": upload_id})

    def _validated_resource(self, body: Any, parts: set[str]) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise _bad("badContent", "the body must be a video resource")
        unknown = set(body) - parts
        if unknown:
            raise _RefusedError(
                google_error(
                    400,
                    "unexpectedPart",
                    f"part does not name {', '.join(sorted(unknown))}",
                    "youtube.part",
                )
            )
        snippet = body.get("snippet")
        status = body.get("status", {})
        if not isinstance(snippet, dict) or not isinstance(status, dict):
            raise _bad("invalidVideoMetadata", "snippet is required")
        extra = (set(snippet) - SNIPPET_FIELDS) | (set(status) - STATUS_FIELDS)
        if extra:
            raise _RefusedError(
                google_error(400, "invalidVideoMetadata", f"unknown fields {sorted(extra)}")
            )
        title = snippet.get("title")
        if (
            not isinstance(title, str)
            or not title.strip()
            or len(title) > 100
            or ("<" in title or ">" in title)
        ):
            raise _bad("invalidTitle", "The video title is invalid.")
        description = snippet.get("description", "")
        if (
            not isinstance(description, str)
            or len(description.encode("utf-8")) > 5000
            or "<" in description
            or ">" in description
        ):
            raise _RefusedError(
                google_error(400, "invalidDescription", "The video description is invalid.")
            )
        tags = snippet.get("tags", [])
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise _bad("invalidTags", "The video keywords are invalid.")
        category = snippet.get("categoryId")
        if category is not None and (not isinstance(category, str) or not category.isdigit()):
            raise _bad("invalidCategoryId", "The category ID is invalid.")
        privacy = status.get("privacyStatus", "public")
        if privacy not in PRIVACY:
            raise _bad("invalidVideoMetadata", "privacyStatus is invalid")
        if "publishAt" in status and privacy != "private":
            raise _RefusedError(
                google_error(
                    400, "invalidPublishAt", "publishAt is allowed only for private videos."
                )
            )
        for flag in ("selfDeclaredMadeForKids", "containsSyntheticMedia"):
            if flag in status and not isinstance(status[flag], bool):
                raise _bad("invalidVideoMetadata", f"{flag} is a boolean")
        return {"snippet": snippet, "status": status}

    # -- media PUTs ----------------------------------------------------------------------

    def _session_lock(self, upload_id: str) -> threading.Lock:
        with self._lock:
            return self._session_locks.setdefault(upload_id, threading.Lock())

    def _put(self, request: FakeRequest, fault: Fault | None) -> FakeResponse:
        upload_id = request.param("upload_id") or ""
        with self._session_lock(upload_id):
            found = self._store.get(NAME, "session", upload_id)
            if found is None:
                _drain(request)
                return google_error(404, "notFound", "upload session not found", "global")
            if fault is not None and fault.kind == "session_expired":
                status = fault.params.get("status", 404)
                found.update(state="expired", expired_status=410 if status == 410 else 404)
                self._store.put(NAME, "session", upload_id, found)
            if found["state"] == "expired":
                _drain(request)
                return google_error(
                    int(found["expired_status"]), "notFound", "upload session expired", "global"
                )
            total = int(found["total"])
            header = request.headers.get("content-range")
            if header is not None and _STATUS_RANGE.fullmatch(header):
                _drain(request)
                if int(_STATUS_RANGE.fullmatch(header).group(1)) != total:  # type: ignore[union-attr]  # matched above
                    return google_error(400, "badRequest", "Content-Range total differs", "global")
                return self._progress_answer(found, completed_now=False)
            if header is None:
                first, last, claimed = 0, request.content_length - 1, request.content_length
            else:
                match = _RANGE.fullmatch(header)
                if match is None:
                    _drain(request)
                    return google_error(400, "badRequest", "Invalid Content-Range", "global")
                first, last, claimed = (int(g) for g in match.groups())
            length = last - first + 1
            if claimed != total or length != request.content_length or length <= 0 or last >= total:
                _drain(request)
                return google_error(400, "badRequest", "Content-Range does not fit", "global")
            if last + 1 < total and length % QUANTUM:
                _drain(request)
                return google_error(
                    400,
                    "badRequest",
                    "a chunk but the last must be a multiple of 262144 bytes",
                    "global",
                )
            if found["state"] == "complete":
                _drain(request)
                return self._progress_answer(found, completed_now=False)
            received = self._received(found)
            if first > received:
                _drain(request)
                return google_error(
                    400, "badRequest", f"Content-Range starts past byte {received}", "global"
                )
            drop = 0
            if fault is not None and fault.kind == "partial_range":
                drop = int(fault.params.get("drop_bytes", QUANTUM))
            kept = self._receive(request, found, first, length, drop)
            if kept == total:
                self._complete(found)
                return self._progress_answer(found, completed_now=True)
            return self._progress_answer(found, completed_now=False)

    def _receive(
        self, request: FakeRequest, session: dict[str, Any], first: int, length: int, drop: int
    ) -> int:
        """Stream the body to the blob and fsync it; the new received count."""
        received = self._received(session)
        blob = self._blob(session["id"])
        skip = received - first  # bytes the session already holds
        got = 0
        with blob.open("r+b" if blob.exists() else "w+b") as out:
            out.seek(received)
            written = flushed = 0
            try:
                while got < length:
                    piece = request.stream.read(min(PIECE, length - got))
                    if not piece:
                        break
                    got += len(piece)
                    if skip > 0:
                        cut = min(skip, len(piece))
                        piece, skip = piece[cut:], skip - cut
                    if piece:
                        out.write(piece)
                        written += len(piece)
                        if written - flushed >= WRITEBACK_BYTES:
                            out.flush()
                            _start_writeback(out.fileno(), received + flushed, written - flushed)
                            flushed = written
            except OSError:
                pass  # the client went away: keep what arrived
            kept = received + written
            if got < length:
                # An interrupted chunk: keep whole 256 KiB units of what arrived.
                kept = received + (written // QUANTUM) * QUANTUM
            kept = max(received, kept - drop)
            out.truncate(kept)
            out.flush()
            os.fsync(out.fileno())
        return kept

    def _complete(self, session: dict[str, Any]) -> None:
        digest = hashlib.sha256()
        with self._blob(session["id"]).open("rb") as source:
            while piece := source.read(PIECE):
                digest.update(piece)
        existing = self._store.find(NAME, "video", lambda v: v["session"] == session["id"])
        # A crash between the video's commit and its session's: never a second video.
        video_id = existing[0]["id"] if existing else self._video_id()
        resource = session["resource"]
        status = dict(resource.get("status", {}))
        snippet = dict(resource["snippet"])
        video = {
            "id": video_id,
            "publishedAt": _now(),
            "snippet": snippet,
            "status": status,
            "size": int(session["total"]),
            "sha256": digest.hexdigest(),
            "content_type": session["content_type"],
            "session": session["id"],
        }
        if not existing:
            self._store.put(NAME, "video", video_id, video)
        session.update(state="complete", video_id=video_id)
        self._store.put(NAME, "session", session["id"], session)

    def _progress_answer(self, session: Mapping[str, Any], *, completed_now: bool) -> FakeResponse:
        if session["state"] == "complete":
            video = self._store.get(NAME, "video", str(session["video_id"]))
            assert video is not None
            return json_response(201 if completed_now else 200, _video_resource(video))
        received = self._received(session)
        headers = {"Range": f"bytes=0-{received - 1}"} if received else {}
        return FakeResponse(308, b"", headers)

    # -- list calls ----------------------------------------------------------------------

    def _channels(self, request: FakeRequest) -> FakeResponse:
        if request.param("mine") != "true":
            return google_error(
                400, "missingRequiredParameter", "mine=true is required", "youtube.parameter"
            )
        if not request.param("part"):
            return google_error(400, "required", "Required parameter: part", "global")
        return json_response(
            200,
            {
                "kind": "youtube#channelListResponse",
                "pageInfo": {"totalResults": 1, "resultsPerPage": 5},
                "items": [
                    {
                        "kind": "youtube#channel",
                        "id": CHANNEL_ID,
                        "contentDetails": {
                            "relatedPlaylists": {"likes": "", "uploads": UPLOADS_PLAYLIST}
                        },
                    }
                ],
            },
        )

    def _playlist_items(self, request: FakeRequest) -> FakeResponse:
        if request.param("playlistId") != UPLOADS_PLAYLIST:
            return google_error(
                404,
                "playlistNotFound",
                "The playlist identified with the request's playlistId parameter cannot be found.",
                "youtube.playlistItem",
            )
        size_text = request.param("maxResults") or "5"
        if not size_text.isdigit() or not 0 <= int(size_text) <= 50:
            return google_error(
                400, "invalidValue", "maxResults must be within 0..50", "youtube.parameter"
            )
        size = int(size_text)
        token = request.param("pageToken") or ""
        start = _page_start(token)
        if start is None:
            return google_error(
                400, "invalidPageToken", "The page token is invalid.", "youtube.parameter"
            )
        videos = list(reversed(self._store.all(NAME, "video")))  # newest first
        page = videos[start : start + size]
        body: dict[str, Any] = {
            "kind": "youtube#playlistItemListResponse",
            "pageInfo": {"totalResults": len(videos), "resultsPerPage": size},
            "items": [
                {
                    "kind": "youtube#playlistItem",
                    "id": f"item-{v['id']}",
                    "snippet": {
                        "publishedAt": v["publishedAt"],
                        "channelId": CHANNEL_ID,
                        "title": v["snippet"]["title"],
                        "description": v["snippet"].get("description", ""),
                        "channelTitle": CHANNEL_TITLE,
                        "playlistId": UPLOADS_PLAYLIST,
                        "position": start + i,
                        "resourceId": {"kind": "youtube#video", "videoId": v["id"]},
                    },
                }
                for i, v in enumerate(page)
            ],
        }
        if start + size < len(videos) and size:
            body["nextPageToken"] = _page_token(start + size)
        return json_response(200, body)

    def _videos(self, request: FakeRequest) -> FakeResponse:
        if not request.param("part"):
            return google_error(400, "required", "Required parameter: part", "global")
        ids = [i for i in (request.param("id") or "").split(",") if i]
        items = []
        for video_id in ids:
            video = self._store.get(NAME, "video", video_id)
            if video is not None:
                items.append(
                    {
                        **_video_resource(video),
                        "processingDetails": {"processingStatus": "succeeded"},
                    }
                )
        return json_response(
            200,
            {
                "kind": "youtube#videoListResponse",
                "pageInfo": {"totalResults": len(items), "resultsPerPage": len(items)},
                "items": items,
            },
        )

    # -- ground truth and control ----------------------------------------------------------

    def effects(self) -> list[dict[str, Any]]:
        return [
            {
                "id": v["id"],
                "title": v["snippet"]["title"],
                "description": v["snippet"].get("description", ""),
                "status": v["status"],
                "size": v["size"],
                "sha256": v["sha256"],
                "session": v["session"],
            }
            for v in self._store.all(NAME, "video")
        ]

    def sessions(self) -> list[dict[str, Any]]:
        return [
            {
                **{k: s[k] for k in ("id", "total", "state", "video_id")},
                "received": self._received(s),
            }
            for s in self._store.all(NAME, "session")
        ]

    def control(self, request: FakeRequest, action: str) -> FakeResponse:
        if action == "sessions":
            return json_response(200, {"sessions": self.sessions()})
        if action == "expire_sessions":
            try:
                body = request.json() if request.content_length else {}
            except ValueError:
                body = None
            status = body.get("status", 404) if isinstance(body, dict) else None
            if status not in (404, 410):
                return json_response(400, {"error": "status must be 404 or 410"})
            expired = []
            for found in self._store.all(NAME, "session"):
                if found["state"] == "open":
                    found.update(state="expired", expired_status=status)
                    self._store.put(NAME, "session", found["id"], found)
                    expired.append(found["id"])
            return json_response(200, {"expired": expired})
        return json_response(404, {"error": f"unknown youtube control action {action[:40]!r}"})

    # -- helpers -----------------------------------------------------------------------------

    def _received(self, session: Mapping[str, Any]) -> int:
        """Bytes the session holds: the fsync'd blob's length (all, once complete)."""
        if session["state"] == "complete":
            return int(session["total"])
        blob = self._blob(str(session["id"]))
        return min(blob.stat().st_size, int(session["total"])) if blob.exists() else 0

    def _blob(self, upload_id: str) -> Path:
        return self._store.blob_path(NAME, f"upload-{upload_id}")

    def blob(self, video_id: str) -> Path | None:
        """The stored bytes of a video (tests compare them with the uploaded file)."""
        video = self._store.get(NAME, "video", video_id)
        return None if video is None else self._blob(str(video["session"]))

    def _new_id(self, counter: str, length: int) -> str:
        value = self._store.next_value(f"{NAME}-{counter}")
        raw = hashlib.sha256(f"{NAME}:{counter}:{value}".encode()).digest()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")[:length]

    def _video_id(self) -> str:
        return self._new_id("video", 11)


def _video_resource(video: Mapping[str, Any]) -> dict[str, Any]:
    snippet = dict(video["snippet"])
    status = dict(video["status"])
    made_for_kids = bool(status.get("selfDeclaredMadeForKids", False))
    return {
        "kind": "youtube#video",
        "etag": hashlib.sha256(json.dumps(video, sort_keys=True).encode()).hexdigest()[:27],
        "id": video["id"],
        "snippet": {
            "publishedAt": video["publishedAt"],
            "channelId": CHANNEL_ID,
            "channelTitle": CHANNEL_TITLE,
            "liveBroadcastContent": "none",
            **snippet,
        },
        "status": {
            "uploadStatus": "uploaded",
            "privacyStatus": status.get("privacyStatus", "public"),
            "license": "youtube",
            "embeddable": True,
            "publicStatsViewable": True,
            "madeForKids": made_for_kids,
            **status,
        },
    }


def _page_token(start: int) -> str:
    return base64.urlsafe_b64encode(f"start:{start}".encode()).decode().rstrip("=")


def _page_start(token: str) -> int | None:
    if not token:
        return 0
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except ValueError:
        return None
    if not text.startswith("start:") or not text[6:].isdigit():
        return None
    return int(text[6:])


def _libc_sync_file_range() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    function.argtypes = (ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint)
    return function


_SYNC_FILE_RANGE = _libc_sync_file_range()
_SYNC_FILE_RANGE_WRITE = 2  # <fcntl.h>: start writeback, do not wait


def _start_writeback(fd: int, offset: int, length: int) -> None:
    """Start writing these bytes to disk while the rest of the body arrives, so the
    fsync before the 308 waits for the tail only (Linux; elsewhere a no-op)."""
    if _SYNC_FILE_RANGE is not None:
        _SYNC_FILE_RANGE(fd, offset, length, _SYNC_FILE_RANGE_WRITE)


def _drain(request: FakeRequest) -> None:
    """Read and drop an unused body, so the connection stays usable."""
    left = request.content_length
    try:
        while left > 0:
            piece = request.stream.read(min(PIECE, left))
            if not piece:
                return
            left -= len(piece)
    except OSError:
        return


def build(store: FakeStore) -> YouTubeFake:
    """The registry's factory (``autopack.fakes.registry``)."""
    return YouTubeFake(store)
