"""The Etsy Open API v3 adapter: ``listing.create``.

Sequence (each step's URL and body are in the render a person approves)::

    1. createDraftListing   POST  /shops/{shop_id}/listings               form-encoded
    2. uploadListingImage   POST  /shops/{shop_id}/listings/{listing_id}/images
                            multipart, one per image, rank i, overwrite=true
    3. updateListing        PATCH /shops/{shop_id}/listings/{listing_id}  state=active
                            (only when the payload says publish; it also writes the
                            description back without the lookup marker)

Etsy has no idempotency key. The draft's description carries a marker derived
from provider, account and idempotency key. Progress checkpoints (durable,
before anything that depends on them is sent):

    {"phase": "creating"}                         before the draft POST
    {"listing_id": N, "images_done": 0}           before the first image
    {..., "images_done": i, "image_ids": [...]}   after each image
    {..., "published": true}                      after the publishing update

Resume: a listing id in the state is never created again; images continue at
``images_done`` (a resent image replaces its rank: ``overwrite=true``); a
``creating`` state without an id first looks for the marked draft and adopts it.

Classification keeps Etsy's ``{"error": "..."}``: 2xx continues; 429 NO_EFFECT
(retry after Retry-After, 1 s for the per-second limit, ``DAILY_RETRY_SECONDS``
when ``x-remaining-today`` is 0); other 4xx PERMANENT; 5xx and errors after
sending MAYBE_EFFECT (reconciled by lookup, which resumes an unfinished one).
A remaining-today of 0 seen earlier stops this adapter from sending at all
until ``DAILY_RETRY_SECONDS`` passed (NO_EFFECT). A remaining-this-second of 0
waits out the second before the next request.

Lookup: a listing id in the state -> getListing (with its images): done ->
FOUND; begun -> IN_PROGRESS; gone (404) -> UNSUPPORTED (a person decides).
Without an id: drafts of the shop (getListingsByShop?state=draft, every page)
whose description holds the marker -> IN_PROGRESS (or FOUND when nothing else
was asked), none -> NOT_FOUND.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx
from pydantic import SecretStr

from autopack.domain.canonical import JsonValue
from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import AutopackError, ConfigurationError, InvalidInputError
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
from autopack.providers._http import describe, provider_client, response_json, transport_failure
from autopack.providers._media import media_problem, resolve_media
from autopack.providers.etsy import multipart, wire
from autopack.providers.etsy.listing import (
    ACTION,
    PROVIDER,
    ListingDraft,
    form_body,
    lookup_marker,
    parse_listing,
)
from autopack.providers.unit import CredentialAccessor

# Per read or write (not the whole upload); below the worker's shortest usual lease (30 s).
DEFAULT_TIMEOUT_SECONDS = 20.0
DEFAULT_CONNECT_TIMEOUT_SECONDS = 5.0
# A spent daily quota (a sliding 24-hour window) frees slowly: ask again in an hour.
DAILY_RETRY_SECONDS = 3600.0
PER_SECOND_RETRY_SECONDS = 1.0
# Lookup reads at most this many pages of drafts (100 each) before giving up.
MAX_DRAFT_PAGES = 50
MASKED_API_KEY = "<keystring>:<shared secret>"
MASKED_BEARER = "Bearer <user id>.<access token>"
LISTING_ID_PLACEHOLDER = "{listing_id}"


class EtsyConfigurationError(ConfigurationError):
    default_code = ErrorCode.INVALID_SETTING


@dataclass(slots=True)
class RateWindow:
    """The last rate-limit headers seen, and when (monotonic seconds)."""

    remaining_today: int | None = None
    remaining_this_second: int | None = None
    seen_at: float = 0.0


def _header_int(response: httpx.Response, name: str) -> int | None:
    value = response.headers.get(name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def etsy_error(response: httpx.Response) -> str:
    """``HTTP <status>: <error>`` with Etsy's own ``{"error": "..."}`` text."""
    data = response_json(response)
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        detail = data["error"]
        if isinstance(data.get("error_description"), str):
            detail += f" ({data['error_description']})"
        return f"HTTP {response.status_code}: {detail}"
    return f"HTTP {response.status_code}"


def response_summary(response: httpx.Response) -> dict[str, Any]:
    data = response_json(response)
    summary: dict[str, Any] = {"status_code": response.status_code}
    if data is not None:
        summary["response"] = data
    limits = {h: response.headers[h] for h in wire.RATE_LIMIT_HEADERS if h in response.headers}
    if limits:
        summary["rate_limit"] = limits
    return summary


class EtsyAdapter:
    """ProviderAdapter for Etsy at ``base_url`` (``settings.etsy_api_url``).

    ``keystring`` and ``shared_secret`` make the ``x-api-key`` header; the
    bearer token comes from ``credentials`` at dispatch and lookup only. Media
    paths are relative to ``media_root``. Holds one ``httpx.Client``.
    """

    def __init__(
        self,
        base_url: str,
        *,
        keystring: str | None,
        shared_secret: SecretStr | None,
        credentials: CredentialAccessor,
        media_root: Path,
        transport: httpx.BaseTransport | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        url = httpx.URL(base_url)
        if url.scheme not in ("http", "https") or not url.host or url.query or url.fragment:
            raise EtsyConfigurationError(
                f"AUTOPACK_ETSY_API_URL must be http(s)://host[/path]: {base_url!r}"
            )
        self._base_url = base_url.rstrip("/")
        self._keystring = keystring
        self._shared_secret = shared_secret
        self._credentials = credentials
        self._media_root = media_root
        self._timeout = timeout
        self._monotonic = monotonic
        self._sleep = sleep
        self._window = RateWindow()
        self._window_lock = threading.Lock()
        self._client = provider_client(transport, timeout, DEFAULT_CONNECT_TIMEOUT_SECONDS)

    # --- ProviderAdapter --------------------------------------------------------

    @property
    def name(self) -> str:
        return PROVIDER

    @property
    def actions(self) -> frozenset[str]:
        return frozenset({ACTION})

    @property
    def request_timeout_seconds(self) -> float:
        return self._timeout

    def render(self, intent: Intent) -> RenderedRequest:
        draft = self._draft(intent)
        listings = f"{self._base_url}/shops/{draft.shop_id}/listings"
        listing = f"{listings}/{LISTING_ID_PLACEHOLDER}"
        form_headers = self._masked_headers(wire.FORM_CONTENT_TYPE)
        steps: list[RequestStep] = []
        for rank, image in enumerate(draft.images, start=1):
            fields: dict[str, JsonValue] = {"rank": str(rank), "overwrite": "true"}
            if image.alt_text:
                fields["alt_text"] = image.alt_text
            body: JsonValue = {"fields": fields, "files": [image.media.to_dict()]}
            boundary = multipart.boundary_for(body)
            steps.append(
                RequestStep(
                    purpose=f"uploadListingImage {rank} of {len(draft.images)}",
                    method="POST",
                    url=f"{listing}/images",
                    headers=self._masked_headers(multipart.content_type(boundary)),
                    body=body,
                    encoding=BodyEncoding.MULTIPART,
                )
            )
        if draft.publish:
            steps.append(
                RequestStep(
                    purpose="updateListing: publish (state=active), lookup marker removed",
                    method="PATCH",
                    url=listing,
                    headers=form_headers,
                    body=form_body((("state", "active"), ("description", draft.description))),
                    encoding=BodyEncoding.FORM,
                )
            )
        return RenderedRequest(
            method="POST",
            url=listings,
            headers=form_headers,
            body=form_body(draft.fields),
            provider_idempotency_key=lookup_marker(
                intent.provider, intent.account, intent.idempotency_key
            ),
            encoding=BodyEncoding.FORM,
            steps=tuple(steps),
        )

    def dispatch(
        self, intent: Intent, request: RenderedRequest, progress: DispatchProgress
    ) -> DispatchResult:
        draft = self._draft(intent)
        marker = lookup_marker(intent.provider, intent.account, intent.idempotency_key)
        if request.provider_idempotency_key != marker:
            return DispatchResult(
                Outcome.PERMANENT, error="the request was rendered for another intent; not sent"
            )
        for image in draft.images:
            problem = media_problem(image.media, self._media_root)
            if problem is not None:
                return DispatchResult(Outcome.PERMANENT, error=f"{problem}; nothing sent")
        secrets = self._secret_headers(intent.account)
        if isinstance(secrets, DispatchResult):
            return secrets
        return _Sequence(self, draft, request, progress, secrets, marker).run()

    def lookup(self, intent: Intent, state: Mapping[str, JsonValue]) -> LookupResult:
        draft = self._draft(intent)
        marker = lookup_marker(intent.provider, intent.account, intent.idempotency_key)
        secrets = self._secret_headers(intent.account)
        if isinstance(secrets, DispatchResult):
            return LookupResult(LookupStatus.UNAVAILABLE, error=secrets.error)
        listing_id = state.get("listing_id")
        if isinstance(listing_id, int):
            return self._lookup_listing(draft, listing_id, secrets)
        found = self.find_marked_draft(draft.shop_id, marker, secrets)
        if isinstance(found, LookupResult):
            return found
        if found is None:
            return LookupResult(LookupStatus.NOT_FOUND, summary={"marker": marker})
        summary = {"marker": marker, "listing_id": found, "state": "draft"}
        if not draft.images and not draft.publish:
            return LookupResult(LookupStatus.FOUND, provider_object_id=str(found), summary=summary)
        return LookupResult(
            LookupStatus.IN_PROGRESS, provider_object_id=str(found), summary=summary
        )

    # --- lookup helpers -------------------------------------------------------------

    def _lookup_listing(
        self, draft: ListingDraft, listing_id: int, secrets: Mapping[str, str]
    ) -> LookupResult:
        answer = self.request(
            "GET",
            f"{self._base_url}/listings/{listing_id}",
            headers={"Accept": "application/json", **secrets},
            params={"includes": "Images"},
        )
        if not isinstance(answer, httpx.Response):
            return LookupResult(LookupStatus.UNAVAILABLE, error=answer.error)
        if answer.status_code == 404:
            return LookupResult(
                LookupStatus.UNSUPPORTED,
                summary=response_summary(answer),
                error=f"listing {listing_id} created for this action is gone: a person decides",
            )
        data = response_json(answer)
        if answer.status_code != 200 or not isinstance(data, dict):
            return LookupResult(
                LookupStatus.UNAVAILABLE, summary=response_summary(answer), error=etsy_error(answer)
            )
        images = data.get("images")
        image_count = len(images) if isinstance(images, list) else 0
        state = data.get("state")
        summary = {"listing_id": listing_id, "state": state, "images": image_count}
        done = state == "active" if draft.publish else image_count >= len(draft.images)
        status = LookupStatus.FOUND if done else LookupStatus.IN_PROGRESS
        return LookupResult(status, provider_object_id=str(listing_id), summary=summary)

    def find_marked_draft(
        self, shop_id: int, marker: str, secrets: Mapping[str, str]
    ) -> int | LookupResult | None:
        """The oldest draft of ``shop_id`` whose description holds ``marker``;
        None when no draft does; a LookupResult when the shop could not be read."""
        matches: list[tuple[int, int]] = []
        for page in range(MAX_DRAFT_PAGES):
            answer = self.request(
                "GET",
                f"{self._base_url}/shops/{shop_id}/listings",
                headers={"Accept": "application/json", **secrets},
                params={
                    "state": "draft",
                    "limit": str(wire.LISTINGS_PAGE_LIMIT),
                    "offset": str(page * wire.LISTINGS_PAGE_LIMIT),
                },
            )
            if not isinstance(answer, httpx.Response):
                return LookupResult(LookupStatus.UNAVAILABLE, error=answer.error)
            data = response_json(answer)
            results = data.get("results") if isinstance(data, dict) else None
            if answer.status_code != 200 or not isinstance(results, list):
                return LookupResult(
                    LookupStatus.UNAVAILABLE,
                    summary=response_summary(answer),
                    error=etsy_error(answer),
                )
            for listing in results:
                if (
                    isinstance(listing, dict)
                    and isinstance(listing.get("listing_id"), int)
                    and marker in str(listing.get("description", ""))
                ):
                    created = listing.get("created_timestamp")
                    matches.append(
                        (created if isinstance(created, int) else 0, listing["listing_id"])
                    )
            if len(results) < wire.LISTINGS_PAGE_LIMIT:
                # Etsy's order is not guaranteed: the oldest match is the first effect.
                return min(matches)[1] if matches else None
        return LookupResult(
            LookupStatus.UNAVAILABLE,
            error=f"shop {shop_id} has more than {MAX_DRAFT_PAGES * 100} drafts to search",
        )

    # --- sending --------------------------------------------------------------------

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        content: bytes | Iterator[bytes] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> httpx.Response | DispatchResult:
        """Send one request within the rate limits: its response, or the outcome of
        not sending it (daily quota spent) or of the transport error."""
        refusal = self._await_rate_window()
        if refusal is not None:
            return refusal
        try:
            response = self._client.request(
                method, url, headers=headers, content=content, params=params
            )
        except (httpx.TransportError, httpx.InvalidURL) as exc:
            return transport_failure(exc)
        except OSError as exc:  # the media file failed mid-stream: maybe partly sent
            return DispatchResult(Outcome.MAYBE_EFFECT, error=describe(exc, "maybe sent"))
        self._note_rate_window(response)
        return response

    def rate_refusal(self) -> DispatchResult | None:
        """NO_EFFECT while the daily quota is known to be spent, else None."""
        with self._window_lock:
            window = self._window
        elapsed = self._monotonic() - window.seen_at
        if window.remaining_today == 0 and elapsed < DAILY_RETRY_SECONDS:
            return DispatchResult(
                Outcome.NO_EFFECT,
                error="Etsy daily request quota spent (x-remaining-today: 0); not sent",
                retry_after_seconds=DAILY_RETRY_SECONDS - elapsed,
            )
        return None

    def _await_rate_window(self) -> DispatchResult | None:
        refusal = self.rate_refusal()
        if refusal is not None:
            return refusal
        with self._window_lock:
            window = RateWindow(
                self._window.remaining_today,
                self._window.remaining_this_second,
                self._window.seen_at,
            )
        elapsed = self._monotonic() - window.seen_at
        if window.remaining_this_second == 0 and elapsed < PER_SECOND_RETRY_SECONDS:
            self._sleep(PER_SECOND_RETRY_SECONDS - elapsed)
        return None

    def _note_rate_window(self, response: httpx.Response) -> None:
        today = _header_int(response, wire.REMAINING_TODAY)
        second = _header_int(response, wire.REMAINING_THIS_SECOND)
        if today is None and second is None:
            return
        with self._window_lock:
            self._window = RateWindow(today, second, self._monotonic())

    def classify_failure(self, response: httpx.Response, **summary: Any) -> DispatchResult:
        """The outcome of a non-2xx answer (see the module docstring)."""
        status = response.status_code
        full = {**response_summary(response), **summary}
        if status == 429:
            retry = _retry_after(response)
            if retry is None:
                spent = _header_int(response, wire.REMAINING_TODAY) == 0
                retry = DAILY_RETRY_SECONDS if spent else PER_SECOND_RETRY_SECONDS
            return DispatchResult(
                Outcome.NO_EFFECT,
                status_code=status,
                summary=full,
                error=etsy_error(response),
                retry_after_seconds=retry,
            )
        outcome = Outcome.PERMANENT if 400 <= status < 500 else Outcome.MAYBE_EFFECT
        return DispatchResult(outcome, status_code=status, summary=full, error=etsy_error(response))

    # --- helpers --------------------------------------------------------------------

    @property
    def media_root(self) -> Path:
        return self._media_root

    def _draft(self, intent: Intent) -> ListingDraft:
        if intent.provider != PROVIDER or intent.action != ACTION:
            raise InvalidInputError(
                f"the Etsy adapter does {PROVIDER} {ACTION}, not "
                f"{intent.provider[:64]} {intent.action[:64]}",
                code=ErrorCode.UNKNOWN_ACTION,
            )
        marker = lookup_marker(intent.provider, intent.account, intent.idempotency_key)
        return parse_listing(intent.payload, marker)

    def _masked_headers(self, content_type: str) -> dict[str, str]:
        return {
            "Accept": "application/json",
            "Authorization": MASKED_BEARER,
            "Content-Type": content_type,
            wire.API_KEY_HEADER: MASKED_API_KEY,
        }

    def _secret_headers(self, account: str) -> dict[str, str] | DispatchResult:
        """The real Authorization and x-api-key, or why they cannot be made (nothing sent)."""
        if not self._keystring or self._shared_secret is None:
            return DispatchResult(
                Outcome.PERMANENT,
                error="Etsy needs AUTOPACK_ETSY_CLIENT_ID and AUTOPACK_ETSY_SHARED_SECRET "
                "(x-api-key: keystring:shared_secret); nothing sent",
            )
        try:
            token = self._credentials.access_token(account)
        except (InvalidInputError, ConfigurationError) as exc:
            # No credential, one that needs re-authorization, or no store: a person acts.
            return DispatchResult(
                Outcome.PERMANENT, error=f"Etsy credential for {account!r}: {exc}; nothing sent"
            )
        except AutopackError as exc:
            # A refresh that failed for now (the token endpoint unreachable): retry later.
            return DispatchResult(
                Outcome.NO_EFFECT, error=f"Etsy credential for {account!r}: {exc}; nothing sent"
            )
        return {
            "Authorization": f"Bearer {token}",
            wire.API_KEY_HEADER: f"{self._keystring}:{self._shared_secret.get_secret_value()}",
        }

    # --- lifecycle ------------------------------------------------------------------

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


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


class _Sequence:
    """One dispatch attempt of the three-step sequence, resumed from ``progress``."""

    def __init__(
        self,
        adapter: EtsyAdapter,
        draft: ListingDraft,
        request: RenderedRequest,
        progress: DispatchProgress,
        secrets: Mapping[str, str],
        marker: str,
    ) -> None:
        self.adapter = adapter
        self.draft = draft
        self.request = request
        self.progress = progress
        self.secrets = secrets
        self.marker = marker
        self.state: dict[str, JsonValue] = dict(progress.state)
        self.image_steps = [s for s in request.steps if s.encoding is BodyEncoding.MULTIPART]
        self.publish_steps = [s for s in request.steps if s.method == "PATCH"]

    def run(self) -> DispatchResult:
        listing_id = self.state.get("listing_id")
        if not isinstance(listing_id, int):
            created = self._create_or_adopt()
            if isinstance(created, DispatchResult):
                return created
            listing_id = created
        done = self.state.get("images_done", 0)
        for index in range(done if isinstance(done, int) else 0, len(self.image_steps)):
            failed = self._upload(listing_id, index)
            if failed is not None:
                return failed
        if self.publish_steps and self.state.get("published") is not True:
            failed = self._publish(listing_id)
            if failed is not None:
                return failed
        last_status = self.state.get("last_status")
        return DispatchResult(
            Outcome.SUCCEEDED,
            provider_object_id=str(listing_id),
            status_code=last_status if isinstance(last_status, int) else None,
            summary=self._summary(listing_id),
        )

    def _summary(self, listing_id: int) -> dict[str, Any]:
        return {
            "listing_id": listing_id,
            "images_done": self.state.get("images_done", 0),
            "image_ids": self.state.get("image_ids", []),
            "published": self.state.get("published") is True,
        }

    def _checkpoint(self, note: str, **changes: JsonValue) -> None:
        self.state.update(changes)
        self.progress.checkpoint(self.state, note=note)

    def _headers(self, step_headers: Mapping[str, str]) -> dict[str, str]:
        return {**step_headers, **self.secrets}

    def _create_or_adopt(self) -> int | DispatchResult:
        if self.state.get("phase") == "creating":
            refusal = self.adapter.rate_refusal()
            if refusal is not None:
                return refusal
            # An earlier attempt sent the draft POST and lost its answer: adopt
            # the marked draft it made, if any, rather than making a second one.
            found = self.adapter.find_marked_draft(self.draft.shop_id, self.marker, self.secrets)
            if isinstance(found, LookupResult):
                return DispatchResult(
                    Outcome.MAYBE_EFFECT,
                    summary=dict(found.summary),
                    error=f"cannot search the shop's drafts for {self.marker}: {found.error}",
                )
            if found is not None:
                self._checkpoint(
                    f"adopted draft listing {found}", listing_id=found, images_done=0, image_ids=[]
                )
                return found
        else:
            self._checkpoint("sending createDraftListing", phase="creating")
        answer = self.adapter.request(
            self.request.method,
            self.request.url,
            headers=self._headers(self.request.headers),
            content=str(self.request.body).encode("utf-8"),
        )
        if isinstance(answer, DispatchResult):
            return answer
        if answer.status_code != 201:
            if 200 <= answer.status_code < 300:
                return DispatchResult(
                    Outcome.MAYBE_EFFECT,
                    status_code=answer.status_code,
                    summary=response_summary(answer),
                    error=f"HTTP {answer.status_code} from createDraftListing, expected 201",
                )
            return self.adapter.classify_failure(answer)
        data = response_json(answer)
        listing_id = data.get("listing_id") if isinstance(data, dict) else None
        if isinstance(listing_id, bool) or not isinstance(listing_id, int):
            return DispatchResult(
                Outcome.MAYBE_EFFECT,
                status_code=201,
                summary=response_summary(answer),
                error="createDraftListing answered 201 without a listing_id",
            )
        # Durable before any image is sent: the only handle on this draft.
        self._checkpoint(
            f"draft listing {listing_id} created",
            listing_id=listing_id,
            images_done=0,
            image_ids=[],
            last_status=201,
        )
        return listing_id

    def _upload(self, listing_id: int, index: int) -> DispatchResult | None:
        step = self.image_steps[index]
        body = step.body
        files = body.get("files") if isinstance(body, dict) else None
        fields = body.get("fields") if isinstance(body, dict) else None
        if not isinstance(fields, dict) or not isinstance(files, list) or len(files) != 1:
            return DispatchResult(Outcome.PERMANENT, error="malformed image step; not sent")
        image = self.draft.images[index]
        boundary = multipart.boundary_for(body)
        framed = multipart.build(
            boundary, {k: str(v) for k, v in fields.items()}, image.media, image.filename()
        )
        path = resolve_media(image.media, self.adapter.media_root)
        headers = self._headers(step.headers)
        headers["Content-Length"] = str(framed.length)
        answer = self.adapter.request(
            step.method,
            step.url.replace(LISTING_ID_PLACEHOLDER, str(listing_id)),
            headers=headers,
            content=framed.stream(path),
        )
        if isinstance(answer, DispatchResult):
            return _with_listing(answer, listing_id)
        if not 200 <= answer.status_code < 300:
            return self.adapter.classify_failure(answer, listing_id=listing_id)
        data = response_json(answer)
        image_id = data.get("listing_image_id") if isinstance(data, dict) else None
        known = self.state.get("image_ids")
        ids: list[JsonValue] = list(known) if isinstance(known, list) else []
        if isinstance(image_id, int):
            ids = [*ids[:index], image_id]
        self._checkpoint(
            f"image {index + 1} of {len(self.image_steps)} uploaded",
            images_done=index + 1,
            image_ids=ids,
            last_status=answer.status_code,
        )
        return None

    def _publish(self, listing_id: int) -> DispatchResult | None:
        step = self.publish_steps[0]
        answer = self.adapter.request(
            step.method,
            step.url.replace(LISTING_ID_PLACEHOLDER, str(listing_id)),
            headers=self._headers(step.headers),
            content=str(step.body).encode("utf-8"),
        )
        if isinstance(answer, DispatchResult):
            return _with_listing(answer, listing_id)
        if not 200 <= answer.status_code < 300:
            return self.adapter.classify_failure(answer, listing_id=listing_id)
        self._checkpoint(
            f"listing {listing_id} published", published=True, last_status=answer.status_code
        )
        return None


def _with_listing(result: DispatchResult, listing_id: int) -> DispatchResult:
    return DispatchResult(
        result.outcome,
        status_code=result.status_code,
        summary={**result.summary, "listing_id": listing_id},
        error=result.error,
        retry_after_seconds=result.retry_after_seconds,
    )
