"""One policy page over HTTP: bounded in time, size and redirects, conditional.

The only network I/O of the policy monitor. ``transport`` is the seam tests
swap (None: real network). A page answers ``ok`` (a body to normalise) or
``not_modified`` (304 to our ETag / Last-Modified); anything else raises
``PolicyFetchError`` with a one-line reason, and the caller records a failed
fetch that never makes a snapshot fresh.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from typing import Final

import httpx

from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import UnavailableError

MAX_REDIRECTS: Final = 5
USER_AGENT: Final = "autopack-policy-monitor/1"


class PolicyFetchError(UnavailableError):
    default_code = ErrorCode.POLICY_FETCH_FAILED


@dataclass(frozen=True, slots=True)
class FetchedPage:
    http_status: int
    html: str | None  # None: 304, the stored snapshot is still the page
    etag: str | None
    last_modified: str | None

    @property
    def not_modified(self) -> bool:
        return self.html is None


def _decode(body: bytes, encoding: str | None) -> str:
    name = encoding or "utf-8"
    try:
        codecs.lookup(name)
    except LookupError:
        name = "utf-8"
    return body.decode(name, errors="replace")


class PageFetcher:
    def __init__(
        self,
        *,
        timeout_seconds: float,
        max_bytes: int,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.max_bytes = max_bytes
        self._client = httpx.Client(
            transport=transport,
            timeout=httpx.Timeout(timeout_seconds),
            follow_redirects=True,
            max_redirects=MAX_REDIRECTS,
            headers={"User-Agent": USER_AGENT, "Accept": "text/html,*/*;q=0.5"},
        )

    def close(self) -> None:
        self._client.close()

    def fetch(self, url: str, *, etag: str | None, last_modified: str | None) -> FetchedPage:
        headers: dict[str, str] = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        try:
            with self._client.stream("GET", url, headers=headers) as response:
                if response.status_code == 304:
                    return FetchedPage(304, None, etag, last_modified)
                if response.status_code != 200:
                    raise PolicyFetchError(f"HTTP {response.status_code} from {response.url}")
                declared = response.headers.get("Content-Length", "")
                if declared.isdigit() and int(declared) > self.max_bytes:
                    raise PolicyFetchError(
                        f"page is {declared} bytes, more than the {self.max_bytes}-byte cap"
                    )
                chunks: list[bytes] = []
                size = 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise PolicyFetchError(f"page is larger than the {self.max_bytes}-byte cap")
                    chunks.append(chunk)
                return FetchedPage(
                    200,
                    _decode(b"".join(chunks), response.charset_encoding),
                    response.headers.get("ETag"),
                    response.headers.get("Last-Modified"),
                )
        except httpx.TooManyRedirects:
            raise PolicyFetchError(f"more than {MAX_REDIRECTS} redirects") from None
        except httpx.HTTPError as exc:
            raise PolicyFetchError(f"{type(exc).__name__}: {str(exc)[:200]}") from None
