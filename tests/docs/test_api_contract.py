"""docs/CANONICAL_API_CONTRACT.md documents exactly the app's routes, with the right auth,
every status code and error code each route answers, and the error-code catalogue."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from docs_support import read
from fastapi import FastAPI

from autopack.api import create_app
from autopack.api.app import route_table
from autopack.api.errors import ERROR_CODES_KEY, http_status
from autopack.api.security import PUBLIC_ROUTES
from autopack.cli._common import exit_code
from autopack.domain.error_codes import CATALOGUE, ErrorCode
from autopack.governance.contracts import (
    DocumentedEndpoint,
    codes_by_status,
    documented_endpoints,
    documented_error_codes,
)
from autopack.services.packet_media import PREVIEW_TYPES
from autopack.services.runtime import build_runtime
from autopack.settings import Settings

CONTRACT = "docs/CANONICAL_API_CONTRACT.md"
# Routes whose 200 answer is bytes (a packet's media), not a JSON body.
BINARY_ROUTES = {("get", "/api/packets/{packet_id}/media/{name}")}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    workspace = tmp_path_factory.mktemp("api-contract")
    url = f"sqlite:///{(workspace / 'autopack.db').as_posix()}"
    settings = Settings(
        _env_file=None, workspace=workspace, database_url=url, api_key="contract-" + "k" * 40
    )
    runtime = build_runtime(settings)
    yield create_app(runtime=runtime)
    runtime.close()


@pytest.fixture(scope="module")
def documented() -> list[DocumentedEndpoint]:
    return documented_endpoints(read(CONTRACT))


def test_documented_endpoints_equal_the_routes_both_ways(
    app: FastAPI, documented: list[DocumentedEndpoint]
) -> None:
    docs = {(e.method, e.path) for e in documented}
    routes = route_table(app)
    missing = sorted(routes - docs)
    extra = sorted(docs - routes)
    assert not missing, f"routes without a '### METHOD /path' section in {CONTRACT}: {missing}"
    assert not extra, f"documented in {CONTRACT} but not served: {extra}"


def test_each_endpoint_is_documented_once(documented: list[DocumentedEndpoint]) -> None:
    counts = Counter((e.method, e.path) for e in documented)
    assert [key for key, n in counts.items() if n > 1] == []


def test_auth_lines_agree_with_the_public_allowlist(documented: list[DocumentedEndpoint]) -> None:
    wrong = []
    for e in documented:
        expected = "public" if (e.method, e.path) in PUBLIC_ROUTES else "X-API-Key"
        if e.auth != expected:
            wrong.append(
                f"{CONTRACT}:{e.line}: {e.method} {e.path}: Auth {e.auth!r}, expected {expected!r}"
            )
    assert not wrong, "\n".join(wrong)


def _success_code(app: FastAPI, method: str, path: str) -> int:
    operation: dict[str, Any] = app.openapi().get("paths", {}).get(path, {}).get(method.lower(), {})
    codes = sorted(int(code) for code in operation.get("responses", {}) if code.startswith("2"))
    return codes[0] if codes else 200


def test_responses_list_the_success_code_and_401_when_protected(
    app: FastAPI, documented: list[DocumentedEndpoint]
) -> None:
    wrong = []
    for e in documented:
        needed = {_success_code(app, e.method, e.path)}
        if e.auth == "X-API-Key":
            needed.add(401)
        if not needed <= set(e.statuses):
            lacking = sorted(needed - set(e.statuses))
            wrong.append(f"{CONTRACT}:{e.line}: {e.method} {e.path}: Responses lack {lacking}")
    assert not wrong, "\n".join(wrong)


def _operation(app: FastAPI, method: str, path: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = app.openapi().get("paths", {}).get(path, {}).get(method.lower())
    return found


# Their codes are the conventions (missing_api_key / invalid_api_key, invalid_request).
CONVENTION_STATUSES = frozenset({401, 422})


def test_documented_status_codes_equal_the_openapi_responses_both_ways(
    app: FastAPI, documented: list[DocumentedEndpoint]
) -> None:
    wrong = []
    checked = 0
    for e in documented:
        operation = _operation(app, e.method, e.path)
        if operation is None:  # the schema route itself: answered outside the schema
            continue
        checked += 1
        served = {int(status) for status in operation["responses"]}
        if served != set(e.statuses):
            wrong.append(
                f"{CONTRACT}:{e.line}: {e.method} {e.path}: documented {sorted(set(e.statuses))}"
                f", OpenAPI {sorted(served)}"
            )
    assert checked == len(documented) - 1
    assert not wrong, "\n".join(wrong)


def test_documented_error_codes_equal_the_declared_ones_both_ways(
    app: FastAPI, documented: list[DocumentedEndpoint]
) -> None:
    wrong = []
    for e in documented:
        operation = _operation(app, e.method, e.path)
        if operation is None:
            continue
        for status, answer in operation["responses"].items():
            declared = set(answer.get(ERROR_CODES_KEY, ()))
            named = set(e.codes.get(int(status), ()))
            if int(status) in CONVENTION_STATUSES and not named:
                continue
            if named != declared:
                wrong.append(
                    f"{CONTRACT}:{e.line}: {e.method} {e.path} `{status}`: documented "
                    f"{sorted(named)}, declared {sorted(declared)}"
                )
    assert not wrong, "\n".join(wrong)


def test_every_error_response_has_the_error_body_and_catalogued_codes(app: FastAPI) -> None:
    for path, operations in app.openapi()["paths"].items():
        for method, operation in operations.items():
            for status, answer in operation["responses"].items():
                if int(status) < 400 or path == "/health":
                    continue
                schema = answer["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (method, path)
                codes = [ErrorCode(code) for code in answer[ERROR_CODES_KEY]]
                assert codes, (method, path, status)
                assert {http_status(code) for code in codes} == {int(status)}, (method, path)


def test_every_route_has_a_response_model(app: FastAPI) -> None:
    for path, operations in app.openapi()["paths"].items():
        for method, operation in operations.items():
            if method == "head":
                continue  # a HEAD answer has no body by definition
            success = [s for s in operation["responses"] if s.startswith("2")]
            for status in success:
                content = operation["responses"][status]["content"]
                if (method, path) in BINARY_ROUTES:
                    # Media bytes: exactly the fixed preview types, never JSON.
                    assert set(content) == PREVIEW_TYPES, (method, path)
                    continue
                schema = content["application/json"]["schema"]
                assert schema.get("$ref", "").startswith("#/components/schemas/"), (method, path)


def test_the_error_code_table_equals_the_catalogue_both_ways() -> None:
    table = documented_error_codes(read(CONTRACT))
    assert sorted(table) == sorted(code.value for code in ErrorCode)
    wrong = []
    for code, entry in CATALOGUE.items():
        row = table[code.value]
        status = http_status(code)
        expected = (
            entry.category.value,
            "varies" if status is None else str(status),
            str(exit_code(code)),
            entry.meaning,
        )
        if (row.category, row.http, row.exit, row.meaning) != expected:
            wrong.append(f"{CONTRACT}:{row.line}: {code.value}: expected {expected}")
    assert not wrong, "\n".join(wrong)


def test_the_code_reader_splits_codes_by_status() -> None:
    text = (
        "`200` ok; `400` bad (code `a_b`) or worse (codes `c`, `d` and `e1`); "
        "`404` missing; `409` taken (`status` is `x`, code `f`)"
    )
    assert codes_by_status(text) == {
        200: frozenset(),
        400: frozenset({"a_b", "c", "d", "e1"}),
        404: frozenset(),
        409: frozenset({"f"}),
    }


def test_the_reader_sees_every_endpoint_heading(tmp_path: Path) -> None:
    text = (
        "# X\n\n## Area\n\n### GET /a/{id}\n\n- Auth: public\n- Responses: `200` ok;\n"
        "  `404` no\n\n### Not an endpoint\n\n### DELETE /b\n\n- Auth: `X-API-Key`\n"
        "- Responses: `204`\n"
    )
    assert [(e.method, e.path, e.auth, e.statuses) for e in documented_endpoints(text)] == [
        ("GET", "/a/{id}", "public", (200, 404)),
        ("DELETE", "/b", "X-API-Key", (204,)),
    ]


def test_documented_limits_are_the_code_limits() -> None:
    from autopack.domain.canonical import MAX_INTEGER_DIGITS, MAX_NESTING_DEPTH, MAX_RECORD_ID
    from autopack.domain.ledger import MAX_PAYLOAD_BYTES
    from autopack.settings import DEFAULT_MAX_REQUEST_BYTES

    text = read(CONTRACT)
    section = text[text.index("## Limits") : text.index("## Service")]
    for expected in (
        f"at most {MAX_NESTING_DEPTH} levels",
        f"at most {MAX_INTEGER_DIGITS} decimal digits",
        f"at most {MAX_PAYLOAD_BYTES} bytes",
        f"1 to {MAX_RECORD_ID}",
        f"(default {DEFAULT_MAX_REQUEST_BYTES})",
    ):
        assert expected in section, f"{CONTRACT} Limits should say {expected!r}"
    assert text.count(f"`approval_id` (integer, 1 to {MAX_RECORD_ID})") == 1
    assert text.count(f"`approval_id` (1 to {MAX_RECORD_ID})") == 2
