"""The shared HTTP outcome rules (providers/_http.py): what an answer or a
transport error proves about a request's effect. The sandbox adapter's tests
exercise the same rules against a real server; these pin each row of the table."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from autopack.domain.providers import Outcome
from autopack.providers import _http

REQUEST = httpx.Request("POST", "http://provider.test/v1/things")


def _response(
    status: int, body: Any = None, headers: dict[str, str] | None = None
) -> httpx.Response:
    if body is None:
        return httpx.Response(status, text="plain", headers=headers, request=REQUEST)
    return httpx.Response(status, json=body, headers=headers, request=REQUEST)


@pytest.mark.parametrize(
    ("status", "body", "headers", "outcome", "retry_after"),
    [
        (201, {"id": "obj-1"}, None, Outcome.SUCCEEDED, None),
        (200, {"id": ""}, None, Outcome.MAYBE_EFFECT, None),
        (202, None, None, Outcome.MAYBE_EFFECT, None),
        (429, {"error": {"message": "slow down"}}, {"Retry-After": "2.5"}, Outcome.NO_EFFECT, 2.5),
        (429, None, {"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"}, Outcome.NO_EFFECT, None),
        (400, {"error": {"message": "bad"}}, {"Retry-After": "9"}, Outcome.PERMANENT, None),
        (404, None, None, Outcome.PERMANENT, None),
        (500, None, {"Retry-After": "-3"}, Outcome.MAYBE_EFFECT, 0.0),
        (503, None, {"Retry-After": "inf"}, Outcome.MAYBE_EFFECT, None),
        (302, None, None, Outcome.MAYBE_EFFECT, None),
    ],
)
def test_response_classification(
    status: int,
    body: Any,
    headers: dict[str, str] | None,
    outcome: Outcome,
    retry_after: float | None,
) -> None:
    result = _http.classify_response(_response(status, body, headers))
    assert result.outcome is outcome
    assert result.status_code == status
    assert result.retry_after_seconds == retry_after
    assert result.summary["status_code"] == status
    if body is None:
        assert result.summary["response_text"] == "plain"
    else:
        assert result.summary["response"] == body
    if outcome is Outcome.SUCCEEDED:
        assert (result.provider_object_id, result.error) == ("obj-1", None)
    else:
        assert result.provider_object_id is None
        assert result.error is not None
        assert result.error.startswith(f"HTTP {status}")


def test_error_message_carries_the_provider_message() -> None:
    assert _http.error_message(_response(422, {"error": {"message": "no"}})) == "HTTP 422: no"
    assert _http.error_message(_response(422, {"error": "flat"})) == "HTTP 422"


def test_an_adapter_says_where_its_object_id_sits() -> None:
    nested = _response(200, {"data": {"order": {"id": "o-9"}}})
    result = _http.classify_response(nested, lambda d: d["data"]["order"]["id"])
    assert (result.outcome, result.provider_object_id) == (Outcome.SUCCEEDED, "o-9")
    assert _http.classify_response(nested).outcome is Outcome.MAYBE_EFFECT


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (httpx.ConnectError("refused", request=REQUEST), Outcome.NO_EFFECT),
        (httpx.ConnectTimeout("slow", request=REQUEST), Outcome.NO_EFFECT),
        (httpx.PoolTimeout("busy", request=REQUEST), Outcome.NO_EFFECT),
        (httpx.UnsupportedProtocol("ftp", request=REQUEST), Outcome.PERMANENT),
        (httpx.InvalidURL("bad url"), Outcome.PERMANENT),
        (httpx.ReadTimeout("late", request=REQUEST), Outcome.MAYBE_EFFECT),
        (httpx.WriteError("cut", request=REQUEST), Outcome.MAYBE_EFFECT),
        (httpx.RemoteProtocolError("eof", request=REQUEST), Outcome.MAYBE_EFFECT),
    ],
)
def test_transport_errors(error: Exception, outcome: Outcome) -> None:
    result = _http.transport_failure(error)
    assert result.outcome is outcome
    assert result.error is not None
    assert result.error.startswith(type(error).__name__)


def test_send_returns_the_response_or_the_transport_outcome() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/down":
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(201, json={"id": "x"})

    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        ok = _http.send(client, "POST", "http://p.test/up", content=b"{}", headers={})
        down = _http.send(client, "POST", "http://p.test/down", content=b"{}", headers={})
    assert isinstance(ok, httpx.Response)
    assert ok.status_code == 201
    assert not isinstance(down, httpx.Response)
    assert down.outcome is Outcome.NO_EFFECT
