"""Find a video by the adapter's description marker in the channel's uploads playlist.

YouTube has no idempotency key, so an upload whose outcome is unknown (its
initiate was lost, or its session expired) is looked for where every upload
lands, newest first, never through search (a scarce quota bucket and a lagging
index):

    GET <api>/youtube/v3/channels?part=contentDetails&mine=true
        -> contentDetails.relatedPlaylists.uploads ("UU...")
    GET <api>/youtube/v3/playlistItems?part=snippet&playlistId=UU...&maxResults=50
        [&pageToken=...]  -> items whose snippet.description carries the marker
    GET <api>/youtube/v3/videos?part=snippet,status,processingDetails&id=<id>
        -> confirms the match

Each call costs ``list_cost`` quota units (a setting); the summary says how many
were spent. Source: the Channel, PlaylistItem and Video resources of the YouTube
Data API v3.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import httpx

from autopack.domain.providers import LookupResult, LookupStatus
from autopack.providers._http import describe, error_message, response_json
from autopack.providers.youtube.errors import google_reasons
from autopack.providers.youtube.video import description_has_marker

API_PATH: Final = "/youtube/v3"
PAGE_SIZE: Final = 50
# 50 newest uploads a page; an upload being reconciled is among the newest.
MAX_PAGES: Final = 20


class _UnavailableError(Exception):
    def __init__(self, result: LookupResult) -> None:
        super().__init__(result.error)
        self.result = result


class UploadsSearch:
    """One marker search; counts the quota units it spends."""

    def __init__(
        self, client: httpx.Client, api_url: str, auth: Mapping[str, str], list_cost: int
    ) -> None:
        self._client = client
        self._api = f"{api_url}{API_PATH}"
        self._auth = auth
        self._list_cost = list_cost
        self.quota_units = 0
        self.calls = 0

    def _get(self, resource: str, params: dict[str, str]) -> Any:
        self.calls += 1
        self.quota_units += self._list_cost
        try:
            response = self._client.get(
                f"{self._api}/{resource}",
                params=params,
                headers={"Accept": "application/json", **self._auth},
            )
        except (httpx.TransportError, httpx.InvalidURL) as exc:
            raise _UnavailableError(
                LookupResult(
                    LookupStatus.UNAVAILABLE,
                    summary=self._summary(),
                    error=describe(exc, f"{resource}.list not answered"),
                )
            ) from exc
        data = response_json(response)
        if response.status_code != 200 or not isinstance(data, dict):
            raise _UnavailableError(
                LookupResult(
                    LookupStatus.UNAVAILABLE,
                    summary={
                        **self._summary(),
                        "status_code": response.status_code,
                        "reasons": google_reasons(response),
                    },
                    error=f"{resource}.list: {error_message(response)}",
                )
            )
        return data

    def _summary(self, **extra: Any) -> dict[str, Any]:
        return {"quota_units": self.quota_units, "calls": self.calls, **extra}

    def find(self, marker: str) -> LookupResult:
        try:
            return self._find(marker)
        except _UnavailableError as stop:
            return stop.result

    def _find(self, marker: str) -> LookupResult:
        channels = self._get("channels", {"part": "contentDetails", "mine": "true"})
        items = channels.get("items")
        if not isinstance(items, list) or not items:
            # No channel: nothing can have been uploaded for this account.
            return LookupResult(
                LookupStatus.NOT_FOUND, summary=self._summary(channel=None, matches=0)
            )
        uploads = _dig(items[0], "contentDetails", "relatedPlaylists", "uploads")
        if not isinstance(uploads, str) or not uploads:
            raise _UnavailableError(
                LookupResult(
                    LookupStatus.UNAVAILABLE,
                    summary=self._summary(),
                    error="channels.list: no uploads playlist in the answer",
                )
            )
        matches: list[str] = []
        token: str | None = None
        pages = 0
        while pages < MAX_PAGES:
            params = {"part": "snippet", "playlistId": uploads, "maxResults": str(PAGE_SIZE)}
            if token:
                params["pageToken"] = token
            page = self._get("playlistItems", params)
            pages += 1
            for item in page.get("items") or []:
                snippet = item.get("snippet") if isinstance(item, dict) else None
                if not isinstance(snippet, dict):
                    continue
                video_id = _dig(snippet, "resourceId", "videoId")
                if isinstance(video_id, str) and description_has_marker(
                    snippet.get("description"), marker
                ):
                    matches.append(video_id)
            next_token = page.get("nextPageToken")
            token = next_token if isinstance(next_token, str) and next_token else None
            if token is None:
                break
        if not matches:
            return LookupResult(
                LookupStatus.NOT_FOUND,
                summary=self._summary(
                    playlist=uploads, pages=pages, matches=0, truncated=token is not None
                ),
            )
        # Newest first: the last match is the oldest, the one a resend would duplicate.
        video_id = matches[-1]
        confirmed = self._get(
            "videos", {"part": "snippet,status,processingDetails", "id": video_id}
        )
        found = [
            v
            for v in confirmed.get("items") or []
            if isinstance(v, dict) and v.get("id") == video_id
        ]
        if not found or not description_has_marker(
            _dig(found[0], "snippet", "description"), marker
        ):
            raise _UnavailableError(
                LookupResult(
                    LookupStatus.UNAVAILABLE,
                    summary=self._summary(matches=len(matches)),
                    error=f"videos.list does not confirm {video_id} (yet)",
                )
            )
        return LookupResult(
            LookupStatus.FOUND,
            provider_object_id=video_id,
            summary=self._summary(
                playlist=uploads,
                pages=pages,
                matches=len(matches),
                ids=sorted(set(matches)),
                status=found[0].get("status"),
                processing=found[0].get("processingDetails"),
            ),
        )


def _dig(value: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value
