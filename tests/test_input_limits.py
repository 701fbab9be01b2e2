"""Documented input limits (domain/canonical.py): refused with 400 / exit 2 and a
stable code, never a 500, a traceback or a row that later breaks a listing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from autopack.api.app import create_app
from autopack.domain.canonical import (
    MAX_ENVELOPE_DEPTH,
    MAX_INTEGER_DIGITS,
    MAX_NESTING_DEPTH,
    MAX_RECORD_ID,
    CanonicalizationError,
    canonical_form,
    canonical_json,
    parse_json_strict,
)
from autopack.services.context import Runtime
from conftest import invoke_cli


def nested(depth: int) -> str:
    """A JSON object whose innermost value sits ``depth`` containers deep."""
    return '{"a": ' + "[" * (depth - 1) + "1" + "]" * (depth - 1) + "}"


BAD_PAYLOADS = {
    "nested_254": (nested(254), "nesting_too_deep"),
    "nested_over_limit": (nested(MAX_NESTING_DEPTH + 1), "nesting_too_deep"),
    "nested_100000": ("[" * 100_000 + "]" * 100_000, "nesting_too_deep"),
    "int_4301_digits": ('{"n": ' + "9" * 4301 + "}", "integer_too_large"),
    "int_over_limit": ('{"n": -' + "9" * (MAX_INTEGER_DIGITS + 1) + "}", "integer_too_large"),
    "lone_surrogate_value": ('{"t": "\\ud800"}', "invalid_unicode"),
    "lone_surrogate_key": ('{"\\udfff": 1}', "invalid_unicode"),
}
CLI_WORDING = {
    "nesting_too_deep": f"nested deeper than {MAX_NESTING_DEPTH} levels",
    "integer_too_large": f"at most {MAX_INTEGER_DIGITS}",
    "invalid_unicode": "not valid Unicode",
}
GOOD_PAYLOADS = {
    "nested_at_limit": nested(MAX_NESTING_DEPTH),
    "int_at_limit": '{"n": -' + "9" * MAX_INTEGER_DIGITS + "}",
    "surrogate_pair": '{"t": "\\ud83d\\ude00"}',
}


@pytest.mark.parametrize("name", sorted(BAD_PAYLOADS))
def test_parse_refuses_beyond_the_limits(name: str) -> None:
    text, code = BAD_PAYLOADS[name]
    with pytest.raises(CanonicalizationError) as caught:
        parse_json_strict(text, max_depth=MAX_NESTING_DEPTH)
    assert caught.value.code == code
    caught.value.message.encode("ascii")  # safe to print and to put in a JSON body


def test_normalize_refuses_beyond_the_limits_for_library_callers() -> None:
    deep: object = 1
    for _ in range(MAX_ENVELOPE_DEPTH + 1):
        deep = [deep]
    assert canonical_form(deep[0], max_depth=MAX_ENVELOPE_DEPTH)  # type: ignore[index]
    with pytest.raises(CanonicalizationError):
        canonical_form(deep[0], max_depth=MAX_NESTING_DEPTH)  # type: ignore[index]
    for value, code in (
        (deep, "nesting_too_deep"),
        ({"n": 10**MAX_INTEGER_DIGITS}, "integer_too_large"),
        ({"t": "x\udc80"}, "invalid_unicode"),
    ):
        with pytest.raises(CanonicalizationError) as caught:
            canonical_json(value)
        assert caught.value.code == code


@pytest.mark.parametrize("name", sorted(GOOD_PAYLOADS))
def test_values_at_the_limits_are_accepted(name: str) -> None:
    assert canonical_form(parse_json_strict(GOOD_PAYLOADS[name]), max_depth=MAX_NESTING_DEPTH)


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    app = create_app(runtime=runtime)
    assert runtime.settings.api_key is not None
    headers = {"X-API-Key": runtime.settings.api_key.get_secret_value()}
    with TestClient(app, raise_server_exceptions=False, headers=headers) as test_client:
        yield test_client


def _propose(client: TestClient, key: str, payload_json: str) -> tuple[int, dict[str, object]]:
    body = {"provider": "sandbox", "action": "listing.create", "key": key}
    response = client.post("/api/actions", json={**body, "payload_json": payload_json})
    return response.status_code, response.json()


def test_api_refuses_payloads_beyond_the_limits(client: TestClient) -> None:
    for name, (text, code) in sorted(BAD_PAYLOADS.items()):
        status, body = _propose(client, f"bad-{name}", text)
        assert (status, body["error"]["code"]) == (400, code), (name, body)  # type: ignore[index]
    # A raw lone surrogate in the request body's string (not a JSON escape inside it).
    response = client.post(
        "/api/actions",
        content=b'{"provider": "sandbox", "action": "listing.create", "key": "raw", '
        b'"payload_json": "{\\"t\\": \\"\\ud800\\"}"}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_unicode"
    assert client.get("/api/actions").json() == {"actions": [], "next_cursor": None}


def test_api_accepts_payloads_at_the_limits_and_still_lists_them(client: TestClient) -> None:
    """A payload nested 253 deep used to be accepted and then break every listing."""
    for name, text in sorted(GOOD_PAYLOADS.items()):
        status, body = _propose(client, f"good-{name}", text)
        assert status == 201, (name, body)
    listing = client.get("/api/actions")
    assert listing.status_code == 200, listing.text
    assert len(listing.json()["actions"]) == len(GOOD_PAYLOADS)
    shown = client.get("/api/actions/good-nested_at_limit")
    assert shown.status_code == 200, shown.text


@pytest.mark.parametrize("approval_id", [MAX_RECORD_ID + 1, 2**63, 2**64, 0, -1])
def test_api_approval_ids_out_of_range_are_a_4xx(client: TestClient, approval_id: int) -> None:
    for method, path, body in (
        ("GET", f"/api/approvals/{approval_id}", None),
        ("POST", f"/api/approvals/{approval_id}/approve", {"hash": "0" * 64, "approver": "a"}),
        ("POST", f"/api/approvals/{approval_id}/reject", {"rejecter": "a"}),
    ):
        response = client.request(method, path, json=body)
        assert response.status_code == 422, (path, response.text)
        assert response.json()["error"]["code"] == "invalid_request"


def test_api_largest_approval_id_is_a_404(client: TestClient) -> None:
    response = client.get(f"/api/approvals/{MAX_RECORD_ID}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "approval_not_found"


def test_cli_refuses_payloads_and_ids_beyond_the_limits(
    cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    payload = cli_env / "payload.json"
    base = ["actions", "propose", "--provider", "sandbox", "--action", "listing.create"]
    for name, (text, code) in sorted(BAD_PAYLOADS.items()):
        payload.write_text(text, encoding="utf-8")
        status, out, err = invoke_cli(
            [*base, "--key", f"bad-{name}", "--payload", str(payload), "--json"], capsys
        )
        assert status == 2, (name, out, err)
        assert err.startswith("error: ")
        assert len(err.strip().splitlines()) == 1, err
        assert CLI_WORDING[code] in err
    payload.write_text(GOOD_PAYLOADS["nested_at_limit"], encoding="utf-8")
    status, out, err = invoke_cli(
        [*base, "--key", "deep", "--payload", str(payload), "--json"], capsys
    )
    assert status == 0, err
    status, out, err = invoke_cli(["actions", "list", "--json"], capsys)
    assert status == 0, err
    assert [a["key"] for a in json.loads(out)] == ["deep"]
    for command in ("approve", "reject"):
        extra = ["--hash", "0" * 64] if command == "approve" else []
        status, _, err = invoke_cli(
            ["approvals", command, str(MAX_RECORD_ID + 1), *extra, "--as", "alice"], capsys
        )
        assert status == 2, err
        assert "internal error" not in err


def test_api_free_text_with_a_lone_surrogate_is_a_400(client: TestClient) -> None:
    """A reject reason with a lone surrogate used to reach the database: a 500."""
    status, body = _propose(client, "text-1", '{"t": "x"}')
    assert status == 201, body
    approval_id = body["action"]["approval_id"]  # type: ignore[index]
    for path, content in (
        (f"/api/approvals/{approval_id}/reject", b'{"reason": "\\ud800"}'),
        ("/api/actions/text-1/cancel", b'{"reason": "\\udfff"}'),
        (
            "/api/actions/text-1/resolve",
            b'{"outcome": "failed", "reason": "\\ud800"}',
        ),
    ):
        response = client.post(path, content=content, headers={"content-type": "application/json"})
        assert response.status_code == 400, (path, response.text)
        assert response.json()["error"]["code"] == "invalid_unicode", response.text
    shown = client.get("/api/actions/text-1").json()
    assert shown["action"]["status"] == "awaiting_approval"


def test_provider_data_beyond_the_limits_is_still_recorded(runtime: Runtime) -> None:
    """Recording an outcome must not fail on what a provider sent: what the limits
    refuse in input is replaced in provider data (response summaries, errors)."""
    from autopack.services.ledger import LedgerService

    deep: object = "bottom"
    for _ in range(200):
        deep = {"d": deep}
    summary = {
        "status_code": 201,
        "response": {"deep": deep, "big": 10**500, "text": "a\ud800b", "\udfffkey": 1},
    }
    text = LedgerService(runtime).store.redacted_json(summary)
    parsed = json.loads(text)
    assert parsed["status_code"] == 201
    response = parsed["response"]
    assert response["big"] == f"<integer of {(10**500).bit_length()} bits>"
    assert response["text"] == "a\\ud800b"
    assert response["\\udfffkey"] == 1
    inner = response["deep"]
    depth = 2  # summary and response
    while isinstance(inner, dict):
        inner, depth = inner["d"], depth + 1
    assert inner == f"<nested deeper than {MAX_NESTING_DEPTH} levels>"
    assert depth <= MAX_NESTING_DEPTH + 1
