"""The three request kinds of a YouTube resumable upload, hand-built with httpx.

    initiate      POST <api>/upload/youtube/v3/videos?uploadType=resumable&part=snippet%2Cstatus
                  JSON video resource; X-Upload-Content-Length/-Type; 200 + Location
    chunk         PUT <session uri>, Content-Range: bytes FIRST-LAST/TOTAL, the bytes
                  streamed from disk; 308 + Range (more wanted) or 200/201 + video
    status query  PUT <session uri>, Content-Length: 0, Content-Range: bytes */TOTAL;
                  308 + Range: bytes=0-N (resume at N+1; no Range: at 0), 200/201 done,
                  404/410 the session expired

Source: developers.google.com/youtube/v3/guides/using_resumable_upload_protocol.
Every chunk but the last is a multiple of 256 KiB (``CHUNK_QUANTUM``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Final

import httpx

from autopack.domain.providers import DispatchResult
from autopack.providers._http import transport_failure
from autopack.providers._media import read_range

UPLOAD_PATH: Final = "/upload/youtube/v3/videos"
INITIATE_QUERY: Final = "uploadType=resumable&part=snippet%2Cstatus"
CHUNK_QUANTUM: Final = 256 * 1024
# Pieces handed to the socket while a chunk streams from disk.
READ_PIECE_BYTES: Final = 1024 * 1024
RESUME_INCOMPLETE: Final = 308
COMPLETE: Final = frozenset({200, 201})
EXPIRED: Final = frozenset({404, 410})
_RANGE: Final = re.compile(r"bytes=0-(\d+)")


class BadRangeError(ValueError):
    """A 308 whose Range header is not ``bytes=0-N``."""


def initiate_url(api_url: str) -> str:
    return f"{api_url}{UPLOAD_PATH}?{INITIATE_QUERY}"


def acknowledged_offset(response: httpx.Response) -> int:
    """The next byte the session wants, from a 308's ``Range`` (absent: 0)."""
    value = response.headers.get("Range")
    if value is None:
        return 0
    match = _RANGE.fullmatch(value.strip())
    if match is None:
        raise BadRangeError(f"unexpected Range header {value[:80]!r}")
    return int(match.group(1)) + 1


def chunk_plan(total: int, chunk_bytes: int, start: int = 0) -> list[tuple[int, int]]:
    """``(first, end)`` byte ranges (end exclusive) from ``start`` to ``total``."""
    return [(first, min(first + chunk_bytes, total)) for first in range(start, total, chunk_bytes)]


def content_range(first: int, end: int, total: int) -> str:
    return f"bytes {first}-{end - 1}/{total}"


def request(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str],
    content: bytes | Iterator[bytes],
) -> httpx.Response | DispatchResult:
    """One request: its response, or the outcome of the transport error."""
    try:
        return client.request(method, url, headers=headers, content=content)
    except (httpx.TransportError, httpx.InvalidURL) as exc:
        return transport_failure(exc)


def status_query(
    client: httpx.Client, session_uri: str, total: int, auth: Mapping[str, str]
) -> httpx.Response | DispatchResult:
    headers = {**auth, "Content-Length": "0", "Content-Range": f"bytes */{total}"}
    return request(client, "PUT", session_uri, headers=headers, content=b"")


def put_chunk(
    client: httpx.Client,
    session_uri: str,
    *,
    path: Path,
    first: int,
    end: int,
    total: int,
    content_type: str,
    auth: Mapping[str, str],
) -> httpx.Response | DispatchResult:
    """PUT bytes ``first..end`` of ``path``, streamed from disk (never held whole)."""
    headers = {
        **auth,
        "Content-Length": str(end - first),
        "Content-Range": content_range(first, end, total),
        "Content-Type": content_type,
    }
    body = read_range(path, first, end, READ_PIECE_BYTES)
    return request(client, "PUT", session_uri, headers=headers, content=body)
