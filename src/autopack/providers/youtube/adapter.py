"""The YouTube adapter: ``video.upload`` as a resumable upload (videos.insert).

Render (pure): the initiate POST (the JSON video resource, masked Authorization,
``X-Upload-Content-Length``/``-Type``) and one step per planned media chunk:
``PUT {session_uri}`` with its ``Content-Range``, the body the media reference
(its bytes streamed from disk). The chunk size is a setting (a multiple of
256 KiB); a resume sends the bytes from the acknowledged offset in chunks of
the same size.

Dispatch:

1. With no session in ``progress.state``: re-hash the media (a changed byte is
   PERMANENT, nothing sent), POST the initiate, and checkpoint the session URI
   BEFORE any media byte is sent. An initiate with no answer is MAYBE_EFFECT:
   reconciliation looks for the marker (``uploads``), never a blind resend.
2. PUT the chunks; after each 308 checkpoint the acknowledged offset (a 308 may
   acknowledge fewer bytes than were sent: the next chunk starts there). After a
   timeout, a lost connection or a 5xx, ask ``bytes */TOTAL`` and go on from the
   acknowledged offset (a few times per dispatch; then MAYBE_EFFECT, and the
   reconciler's lookup answers IN_PROGRESS so the next dispatch resumes).
3. With a session in ``progress.state`` (an earlier attempt opened it): never a
   second initiate. Ask the status, resume from the acknowledged offset. A 404 or
   410 means the session expired: the marker search decides; found is SUCCEEDED,
   not found is MAYBE_EFFECT whose lookup answers UNSUPPORTED, so the action is
   parked in needs_attention for a person (a new session could duplicate a video
   the search has not seen yet).

Lookup: with a session, the status query (200/201 FOUND, 308 IN_PROGRESS,
404/410 marker search where NOT_FOUND becomes UNSUPPORTED); without one, the
marker search in the uploads playlist (FOUND / NOT_FOUND / UNAVAILABLE).

Errors keep Google's ``errors[].reason`` (see ``errors``). Quota: a dispatch
that opens a session spends ``quota_cost_insert`` units, a lookup
``quota_cost_list`` per list call; both are settings, reported as
``quota_units`` in the summary.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Self

import httpx

from autopack.domain.canonical import JsonValue, canonical_json
from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import InvalidInputError
from autopack.domain.providers import (
    BodyEncoding,
    DispatchProgress,
    DispatchResult,
    Intent,
    LookupResult,
    LookupStatus,
    Outcome,
    RenderedRequest,
    RequestStep,
)
from autopack.providers._http import (
    describe,
    error_message,
    json_object_id,
    provider_client,
    response_json,
)
from autopack.providers._media import media_problem, resolve_media
from autopack.providers._payload import ProviderPayloadError
from autopack.providers.unit import CredentialAccessor
from autopack.providers.youtube import session
from autopack.providers.youtube.errors import classify_google
from autopack.providers.youtube.uploads import UploadsSearch
from autopack.providers.youtube.video import ACTION, PROVIDER_NAME, VideoUpload, parse_upload

SESSION_PLACEHOLDER: Final = "{session_uri}"
MASKED_TOKEN: Final = "Bearer <access token>"  # noqa: S105 - the mask, not a secret
JSON_CONTENT_TYPE: Final = "application/json; charset=UTF-8"
# Per socket operation (httpx), not per request: a long chunk is fine. Kept well
# below the worker's lease, which must be longer than every adapter's timeout
# (the default lease is 60 s; the crash tests run with 30 s).
DEFAULT_TIMEOUT_SECONDS: Final = 20.0
DEFAULT_CONNECT_TIMEOUT_SECONDS: Final = 5.0
# Failed chunk PUTs (timeout, lost connection, 5xx) one dispatch recovers from by
# asking the status; past that the reconciler resumes in a later dispatch.
MAX_INLINE_RECOVERIES: Final = 3
# One rendered step per chunk, so a person sees every request; past this a
# render would be unreadable (the default chunk covers YouTube's 256 GiB maximum).
MAX_RENDERED_CHUNKS: Final = 4096
# 308 answers in a row that acknowledge no new byte.
MAX_STALLED_ANSWERS: Final = 3


@dataclass(slots=True)
class _Tally:
    """What one dispatch spent and sent, for its summary."""

    quota_units: int = 0
    requests: int = 0
    bytes_sent: int = 0
    opened: bool = False
    resumed_from: int | None = None
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "quota_units": self.quota_units,
            "requests": self.requests,
            "bytes_sent": self.bytes_sent,
            "session": "opened" if self.opened else "resumed",
        }
        if self.resumed_from is not None:
            data["resumed_from"] = self.resumed_from
        if self.notes:
            data["notes"] = list(self.notes)
        return data


def _video_id(data: Any) -> str | None:
    return json_object_id(data)


class YouTubeAdapter:
    """ProviderAdapter for the YouTube Data API at ``api_url`` (or its fake)."""

    def __init__(
        self,
        *,
        api_url: str,
        chunk_bytes: int,
        quota_cost_insert: int,
        quota_cost_list: int,
        credentials: CredentialAccessor,
        media_root: Path,
        clock: Callable[[], datetime],
        transport: httpx.BaseTransport | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_SECONDS,
    ) -> None:
        if chunk_bytes <= 0 or chunk_bytes % session.CHUNK_QUANTUM:
            raise ValueError(f"chunk_bytes must be a multiple of {session.CHUNK_QUANTUM}")
        self._api_url = api_url.rstrip("/")
        self._chunk_bytes = chunk_bytes
        self._insert_cost = quota_cost_insert
        self._list_cost = quota_cost_list
        self._credentials = credentials
        self._media_root = media_root
        self._clock = clock
        self._timeout = timeout
        self._client = provider_client(transport, timeout, connect_timeout)

    # --- ProviderAdapter --------------------------------------------------------

    @property
    def name(self) -> str:
        return PROVIDER_NAME

    @property
    def actions(self) -> frozenset[str]:
        return frozenset({ACTION})

    @property
    def request_timeout_seconds(self) -> float:
        return self._timeout

    def render(self, intent: Intent) -> RenderedRequest:
        upload = self._upload_of(intent)
        media = upload.media
        body: JsonValue = dict(upload.resource)
        plan = session.chunk_plan(media.size, self._chunk_bytes)
        if len(plan) > MAX_RENDERED_CHUNKS:
            raise ProviderPayloadError(
                f"{PROVIDER_NAME} {ACTION}: media.size needs {len(plan)} chunks of "
                f"{self._chunk_bytes} bytes; a render shows at most {MAX_RENDERED_CHUNKS}: "
                "raise AUTOPACK_YOUTUBE_CHUNK_BYTES",
                details={"provider": PROVIDER_NAME, "action": ACTION, "field": "media.size"},
            )
        steps = tuple(
            RequestStep(
                purpose=f"media chunk {number} of {len(plan)}: bytes {first}-{end - 1} "
                f"of {media.size} (after an interruption the bytes resume from the "
                "offset the session acknowledges)",
                method="PUT",
                url=SESSION_PLACEHOLDER,
                headers={
                    "Authorization": MASKED_TOKEN,
                    "Content-Length": str(end - first),
                    "Content-Range": session.content_range(first, end, media.size),
                    "Content-Type": media.content_type,
                },
                body=media.to_dict(),
                encoding=BodyEncoding.MEDIA,
            )
            for number, (first, end) in enumerate(plan, start=1)
        )
        return RenderedRequest(
            method="POST",
            url=session.initiate_url(self._api_url),
            headers={
                "Authorization": MASKED_TOKEN,
                "Content-Length": str(len(canonical_json(body))),
                "Content-Type": JSON_CONTENT_TYPE,
                "X-Upload-Content-Length": str(media.size),
                "X-Upload-Content-Type": media.content_type,
            },
            body=body,
            provider_idempotency_key=upload.marker,
            encoding=BodyEncoding.JSON,
            steps=steps,
        )

    def dispatch(
        self, intent: Intent, request: RenderedRequest, progress: DispatchProgress
    ) -> DispatchResult:
        upload = self._upload_of(intent)
        if request.provider_idempotency_key != upload.marker:
            return DispatchResult(
                Outcome.PERMANENT,
                error="the request's marker does not belong to this intent; not sent",
            )
        tally = _Tally()
        session_uri = progress.state.get("session_uri")
        resuming = isinstance(session_uri, str) and bool(session_uri)
        if not resuming:
            # Re-hashed before the initiate: a changed byte sends nothing.
            problem = self._media_problem(upload)
            if problem is not None:
                return problem
        auth = self._auth(intent.account)
        if isinstance(auth, DispatchResult):
            return auth
        if resuming:
            # The status first (a completed session needs no file); the media is
            # re-hashed before any further byte is sent.
            return self._transfer(upload, progress, str(session_uri), auth, tally, ask_first=True)
        return self._initiate(upload, request, progress, auth, tally)

    def lookup(self, intent: Intent, state: Mapping[str, JsonValue]) -> LookupResult:
        upload = self._upload_of(intent)
        auth = self._auth(intent.account)
        if isinstance(auth, DispatchResult):
            return LookupResult(LookupStatus.UNAVAILABLE, error=auth.error)
        session_uri = state.get("session_uri")
        if not (isinstance(session_uri, str) and session_uri):
            return self._search(upload, auth)
        answer = session.status_query(self._client, session_uri, upload.media.size, auth)
        if isinstance(answer, DispatchResult):
            return LookupResult(LookupStatus.UNAVAILABLE, error=answer.error)
        code = answer.status_code
        if code in session.COMPLETE:
            video_id = _video_id(response_json(answer))
            if video_id:
                return LookupResult(
                    LookupStatus.FOUND,
                    provider_object_id=video_id,
                    summary={"session": "complete", "video": response_json(answer)},
                )
        if code == session.RESUME_INCOMPLETE:
            try:
                acked = session.acknowledged_offset(answer)
            except session.BadRangeError as exc:
                return LookupResult(LookupStatus.UNAVAILABLE, error=str(exc))
            return LookupResult(
                LookupStatus.IN_PROGRESS,
                summary={"session": "incomplete", "acked": acked, "total": upload.media.size},
            )
        if code in session.EXPIRED:
            found = self._search(upload, auth)
            if found.status is LookupStatus.NOT_FOUND:
                return LookupResult(
                    LookupStatus.UNSUPPORTED,
                    summary={**found.summary, "session": "expired"},
                    error=_expired_message(upload),
                )
            return found
        return LookupResult(
            LookupStatus.UNAVAILABLE,
            summary={"status_code": code},
            error=f"status query: {error_message(answer)}",
        )

    # --- lifecycle ----------------------------------------------------------------

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- dispatch parts -----------------------------------------------------------

    def _initiate(
        self,
        upload: VideoUpload,
        request: RenderedRequest,
        progress: DispatchProgress,
        auth: Mapping[str, str],
        tally: _Tally,
    ) -> DispatchResult:
        headers = {**request.headers, **auth}
        tally.requests += 1
        tally.quota_units += self._insert_cost
        answer = session.request(
            self._client,
            request.method,
            request.url,
            headers=headers,
            content=canonical_json(request.body),
        )
        if isinstance(answer, DispatchResult):
            return _with_tally(answer, tally)
        location = answer.headers.get("Location")
        if answer.status_code != 200 or not location:
            result = classify_google(answer, clock=self._clock, object_id=lambda _: None)
            if 200 <= answer.status_code < 300:
                result = DispatchResult(
                    Outcome.MAYBE_EFFECT,
                    status_code=answer.status_code,
                    summary=result.summary,
                    error=f"initiate answered {answer.status_code} without a session URI",
                )
            return _with_tally(result, tally)
        if httpx.URL(location).scheme not in ("http", "https"):
            return _with_tally(
                DispatchResult(
                    Outcome.MAYBE_EFFECT,
                    status_code=answer.status_code,
                    error="initiate answered a session URI that is not http(s)",
                ),
                tally,
            )
        tally.opened = True
        # The only handle for resuming: durable before any media byte is sent.
        progress.checkpoint(
            {
                "session_uri": location,
                "total": upload.media.size,
                "acked": 0,
                "sha256": upload.media.sha256,
            },
            note="upload session opened",
        )
        return self._transfer(upload, progress, location, auth, tally, ask_first=False)

    def _transfer(
        self,
        upload: VideoUpload,
        progress: DispatchProgress,
        session_uri: str,
        auth: Mapping[str, str],
        tally: _Tally,
        *,
        ask_first: bool,
    ) -> DispatchResult:
        """Send the bytes from the acknowledged offset until the session completes."""
        media = upload.media
        total = media.size
        path = resolve_media(media, self._media_root)
        offset = _int(progress.state.get("acked"))
        ask = ask_first
        verified = not ask_first  # a fresh session was opened after the re-hash
        failures = 0
        stalls = 0
        last_error = ""
        while True:
            tally.requests += 1
            if ask:
                answer = session.status_query(self._client, session_uri, total, auth)
            else:
                if not verified:
                    problem = self._media_problem(upload)
                    if problem is not None:
                        # An open session stays incomplete: it never becomes a video.
                        return _with_tally(problem, tally)
                    verified = True
                end = min(offset + self._chunk_bytes, total)
                answer = session.put_chunk(
                    self._client,
                    session_uri,
                    path=path,
                    first=offset,
                    end=end,
                    total=total,
                    content_type=media.content_type,
                    auth=auth,
                )
                tally.bytes_sent += end - offset
            failed = isinstance(answer, DispatchResult) or answer.status_code >= 500
            if failed:
                last_error = (
                    answer.error or "transport error"
                    if isinstance(answer, DispatchResult)
                    else error_message(answer)
                )
                failures += 1
                tally.notes.append(f"{'status query' if ask else 'chunk'}: {last_error}"[:200])
                if failures > MAX_INLINE_RECOVERIES:
                    return DispatchResult(
                        Outcome.MAYBE_EFFECT,
                        summary=tally.summary(),
                        error=f"upload interrupted at byte {offset} of {total}: {last_error}; "
                        "the session is kept and resumed by the next dispatch",
                    )
                ask = True  # what did the session keep? resume from there
                continue
            assert isinstance(answer, httpx.Response)
            ask = False
            code = answer.status_code
            if code in session.COMPLETE:
                return self._completed(answer, tally)
            if code in session.EXPIRED:
                return self._expired(upload, progress, auth, tally)
            if code != session.RESUME_INCOMPLETE:
                return _with_tally(
                    classify_google(answer, clock=self._clock, object_id=_video_id), tally
                )
            try:
                acked = session.acknowledged_offset(answer)
            except session.BadRangeError as exc:
                return DispatchResult(Outcome.MAYBE_EFFECT, summary=tally.summary(), error=str(exc))
            if acked > total:
                return DispatchResult(
                    Outcome.MAYBE_EFFECT,
                    summary=tally.summary(),
                    error=f"the session acknowledged {acked} bytes of {total}",
                )
            if ask_first and tally.resumed_from is None:
                # Where the session really stands (it may hold more than the last
                # checkpoint: a crash can fall between its 308 and our checkpoint).
                tally.resumed_from = acked
            stalls = stalls + 1 if acked <= offset else 0
            if stalls > MAX_STALLED_ANSWERS:
                return DispatchResult(
                    Outcome.MAYBE_EFFECT,
                    summary=tally.summary(),
                    error=f"the session acknowledges no byte past {acked} of {total}",
                )
            if acked != _int(progress.state.get("acked")):
                progress.checkpoint(
                    {**progress.state, "acked": acked}, note=f"acknowledged {acked} of {total}"
                )
            offset = acked
            # Every byte acknowledged but no video yet: ask again.
            ask = offset >= total

    def _completed(self, answer: httpx.Response, tally: _Tally) -> DispatchResult:
        data = response_json(answer)
        video_id = _video_id(data)
        summary = {**tally.summary(), "status_code": answer.status_code, "video": data}
        if not video_id:
            return DispatchResult(
                Outcome.MAYBE_EFFECT,
                status_code=answer.status_code,
                summary=summary,
                error=f"upload completed ({answer.status_code}) without a video id",
            )
        return DispatchResult(
            Outcome.SUCCEEDED,
            provider_object_id=video_id,
            status_code=answer.status_code,
            summary=summary,
        )

    def _expired(
        self,
        upload: VideoUpload,
        progress: DispatchProgress,
        auth: Mapping[str, str],
        tally: _Tally,
    ) -> DispatchResult:
        """The session is gone: the marker search decides; never a second session."""
        if progress.state.get("session_expired") is not True:
            progress.checkpoint(
                {**progress.state, "session_expired": True}, note="upload session expired"
            )
        found = self._search(upload, auth)
        tally.quota_units += _int(found.summary.get("quota_units"))
        if found.status is LookupStatus.FOUND:
            return DispatchResult(
                Outcome.SUCCEEDED,
                provider_object_id=found.provider_object_id,
                summary={**tally.summary(), "found_by_marker": dict(found.summary)},
            )
        error = (
            _expired_message(upload)
            if found.status is LookupStatus.NOT_FOUND
            else f"upload session expired; the marker search failed: {found.error}"
        )
        return DispatchResult(
            Outcome.MAYBE_EFFECT,
            summary={**tally.summary(), "session_expired": True, "search": dict(found.summary)},
            error=error,
        )

    # --- helpers ------------------------------------------------------------------

    def _media_problem(self, upload: VideoUpload) -> DispatchResult | None:
        problem = media_problem(upload.media, self._media_root)
        if problem is None:
            return None
        return DispatchResult(Outcome.PERMANENT, error=f"{problem}; nothing sent")

    def _search(self, upload: VideoUpload, auth: Mapping[str, str]) -> LookupResult:
        return UploadsSearch(self._client, self._api_url, auth, self._list_cost).find(upload.marker)

    def _auth(self, account: str) -> dict[str, str] | DispatchResult:
        try:
            token = self._credentials.access_token(account)
        except Exception as exc:  # noqa: BLE001 - no token: nothing was sent
            return DispatchResult(
                Outcome.NO_EFFECT,
                error=describe(exc, "no access token; nothing sent"),
            )
        return {"Authorization": f"Bearer {token}"}

    def _upload_of(self, intent: Intent) -> VideoUpload:
        if intent.provider != PROVIDER_NAME:
            raise InvalidInputError(
                f"intent for provider {intent.provider[:64]!r} given to the YouTube adapter",
                code=ErrorCode.WRONG_PROVIDER,
            )
        if intent.action != ACTION:
            raise InvalidInputError(
                f"unknown youtube action {intent.action[:64]!r}: one of {ACTION}",
                code=ErrorCode.UNKNOWN_ACTION,
            )
        return parse_upload(intent)


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _with_tally(result: DispatchResult, tally: _Tally) -> DispatchResult:
    return DispatchResult(
        result.outcome,
        provider_object_id=result.provider_object_id,
        status_code=result.status_code,
        summary={**result.summary, **tally.summary()},
        error=result.error,
        retry_after_seconds=result.retry_after_seconds,
    )


def _expired_message(upload: VideoUpload) -> str:
    return (
        f"the upload session expired and no video in the uploads playlist carries "
        f"marker {upload.marker}: a second session could duplicate a video not yet "
        "listed, so a person decides (check the channel, then resolve the action)"
    )
