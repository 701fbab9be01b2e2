"""The error-code catalogue: pinned, complete, and the only source of codes.

Removing or renaming a code breaks clients and scripts, so the catalogue is
pinned here; every raise site uses a catalogue member (checked on the source and
at construction); the HTTP status and exit code follow the code's category.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

import autopack
from autopack.api.errors import (
    HTTP_STATUS,
    UndeclaredErrorCodeWarning,
    install_error_handlers,
)
from autopack.api.schemas import error_responses
from autopack.cli._common import EXIT_CODES
from autopack.domain.error_codes import CATALOGUE, ErrorCategory, ErrorCode
from autopack.domain.errors import (
    AutopackError,
    CheckFailedError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
)

SRC = Path(__file__).resolve().parents[1] / "src" / "autopack"

# The catalogue, pinned: code -> category. Edit this on purpose, never to make a test pass.
PINNED = {
    "autopack_error": "internal",
    "invalid_input": "invalid_input",
    "not_found": "not_found",
    "conflict": "conflict",
    "unauthenticated": "unauthenticated",
    "invalid_configuration": "configuration",
    "unavailable": "unavailable",
    "check_failed": "check_failed",
    "missing_api_key": "unauthenticated",
    "invalid_api_key": "unauthenticated",
    "route_not_found": "not_found",
    "method_not_allowed": "protocol",
    "http_error": "protocol",
    "invalid_request": "invalid_request",
    "internal_error": "internal",
    "invalid_identifier": "invalid_input",
    "invalid_idempotency_key": "invalid_input",
    "invalid_provider": "invalid_input",
    "invalid_action": "invalid_input",
    "invalid_account": "invalid_input",
    "invalid_requester": "invalid_input",
    "invalid_actor": "invalid_input",
    "invalid_approver": "invalid_input",
    "invalid_status": "invalid_input",
    "not_canonicalizable": "invalid_input",
    "naive_datetime": "invalid_input",
    "float_not_allowed": "invalid_input",
    "non_string_key": "invalid_input",
    "duplicate_key": "invalid_input",
    "unsupported_type": "invalid_input",
    "invalid_json": "invalid_input",
    "run_exists": "conflict",
    "run_not_found": "not_found",
    "unknown_provider": "invalid_input",
    "unknown_action": "invalid_input",
    "invalid_payload": "invalid_input",
    "payload_too_large": "invalid_input",
    "payload_unreadable": "invalid_input",
    "project_mismatch": "invalid_input",
    "idempotency_conflict": "conflict",
    "action_not_found": "not_found",
    "illegal_transition": "conflict",
    "lease_lost": "conflict",
    "not_cancellable": "conflict",
    "invalid_outcome": "invalid_input",
    "object_id_required": "invalid_input",
    "invalid_object_id": "invalid_input",
    "not_resolvable": "conflict",
    "chain_broken": "check_failed",
    "invalid_sandbox_intent": "invalid_input",
    "invalid_sandbox_url": "invalid_input",
    "reserved_field": "invalid_input",
    "wrong_provider": "invalid_input",
    "sandbox_start_failed": "configuration",
    "invalid_provider_payload": "invalid_input",
    "invalid_media_ref": "invalid_input",
    "fakes_start_failed": "configuration",
    "invalid_packet": "invalid_input",
    "packet_not_found": "not_found",
    "packet_required": "invalid_input",
    "missing_disclosure": "invalid_input",
    "text_over_limit": "invalid_input",
    "media_type_mismatch": "invalid_input",
    "media_unreadable": "invalid_input",
    "invalid_policy": "invalid_input",
    "approval_not_found": "not_found",
    "approval_refused": "conflict",
    "approval_hash_mismatch": "conflict",
    "approval_used": "conflict",
    "approval_expired": "conflict",
    "approver_reserved": "conflict",
    "self_approval_refused": "conflict",
    "not_approved": "conflict",
    "nothing_to_approve": "conflict",
    "not_awaiting_approval": "conflict",
    "invalid_batch": "invalid_input",
    "concurrent_update": "conflict",
    "unknown_credential_provider": "invalid_input",
    "not_an_oauth_provider": "invalid_input",
    "not_an_api_key_provider": "invalid_input",
    "invalid_environment": "invalid_input",
    "invalid_secret_length": "invalid_input",
    "secret_missing": "invalid_input",
    "account_required": "invalid_input",
    "credential_not_found": "not_found",
    "credential_needs_reauth": "conflict",
    "refresh_transient": "unavailable",
    "refresh_in_progress": "unavailable",
    "credential_key_mismatch": "configuration",
    "credential_undecryptable": "check_failed",
    "credentials_unhealthy": "check_failed",
    "missing_oauth_client": "configuration",
    "oauth_connect_failed": "unauthenticated",
    "oauth_state_mismatch": "unauthenticated",
    "oauth_denied": "unauthenticated",
    "oauth_no_code": "unauthenticated",
    "oauth_exchange_failed": "unauthenticated",
    "callback_port_unavailable": "unauthenticated",
    "callback_timeout": "unauthenticated",
    "fake_oauth_start_failed": "configuration",
    "invalid_setting": "configuration",
    "missing_secret": "configuration",
    "placeholder_secret": "configuration",
    "invalid_database_url": "configuration",
    "database_unreachable": "unavailable",
    "schema_not_at_head": "unavailable",
    "schema_behind": "check_failed",
    "schema_drift": "check_failed",
    "bad_root": "invalid_input",
    "missing_registry": "invalid_input",
    "bad_registry": "invalid_input",
    "not_a_git_repo": "invalid_input",
    "unreadable_file": "invalid_input",
    "invalid_session": "unauthenticated",
    "csrf_token_invalid": "forbidden",
    "not_a_principal_key": "invalid_input",
    "bad_format": "invalid_input",
    "missing_section": "invalid_input",
    "exists": "invalid_input",
    "halted": "conflict",
    "credentials_missing": "conflict",
    "credentials_paused": "conflict",
    "credentials_needs_reauth": "conflict",
    "credentials_invalid": "conflict",
    "invalid_scope": "invalid_input",
    "invalid_reason": "invalid_input",
    "invalid_halt_id": "invalid_input",
    "halt_not_found": "not_found",
    "halt_released": "conflict",
    "forbidden": "forbidden",
    "invalid_principal_name": "invalid_input",
    "invalid_role": "invalid_input",
    "principal_exists": "conflict",
    "principal_not_found": "not_found",
    "principal_revoked": "conflict",
    "second_approver_required": "conflict",
    "identity_mismatch": "forbidden",
    "last_admin": "conflict",
    "invalid_webhook_url": "invalid_input",
    "webhook_not_configured": "configuration",
    "webhook_rejected": "check_failed",
    "webhook_unreachable": "unavailable",
    "notification_not_found": "not_found",
    "invalid_cursor": "invalid_input",
    "invalid_checkpoint": "invalid_input",
    "provider_not_available": "invalid_input",
    "nesting_too_deep": "invalid_input",
    "integer_too_large": "invalid_input",
    "invalid_unicode": "invalid_input",
    "database_missing": "unavailable",
    "database_unavailable": "unavailable",
    "lease_too_short": "invalid_input",
    "request_too_large": "protocol",
    "no_credential_store": "configuration",
    "checkpoint_signature_invalid": "check_failed",
    "policy_missing": "conflict",
    "policy_stale": "conflict",
    "policy_unacknowledged": "conflict",
    "packet_policy_not_current": "conflict",
    "invalid_policy_url": "invalid_input",
    "invalid_policy_hash": "invalid_input",
    "policy_not_watched": "invalid_input",
    "policy_page_not_found": "not_found",
    "policy_ack_mismatch": "conflict",
    "policy_fetch_failed": "unavailable",
    "invalid_task": "invalid_input",
    "invalid_handoff_text": "invalid_input",
    "invalid_context": "invalid_input",
    "context_not_found": "not_found",
    "context_stale": "check_failed",
    "output_rejected": "invalid_input",
    "path_escapes_run": "invalid_input",
    "invalid_query": "invalid_input",
    "memory_unavailable": "unavailable",
    "trading_halted": "conflict",
    "trading_reducing": "conflict",
    "trading_strategy_unregistered": "conflict",
    "trading_strategy_changed": "conflict",
    "trading_live_disabled": "conflict",
    "trading_live_credential": "conflict",
    "trading_not_promoted": "conflict",
    "trading_limits_missing": "conflict",
    "trading_symbol_not_allowed": "conflict",
    "trading_order_notional": "conflict",
    "trading_position_limit": "conflict",
    "trading_order_rate": "conflict",
    "trading_daily_loss": "conflict",
    "trading_drawdown": "conflict",
    "trading_account_unknown": "conflict",
    "trading_account_stale": "conflict",
    "trading_price_unknown": "conflict",
    "invalid_trading_limits": "invalid_input",
    "invalid_strategy": "invalid_input",
    "invalid_trading_state": "invalid_input",
    "strategy_not_found": "not_found",
    "trading_account_not_found": "not_found",
    "trading_request_not_found": "not_found",
    "trading_request_decided": "conflict",
    "trading_request_hash": "conflict",
    "trading_no_change": "conflict",
    "media_not_in_packet": "not_found",
    "media_changed": "conflict",
    "media_not_previewable": "invalid_input",
    "invalid_trading_hash": "invalid_input",
}

# Today's mapping of each category, pinned: (HTTP status or None, CLI exit code).
PINNED_MAPPING = {
    "invalid_input": (400, 2),
    "unauthenticated": (401, 2),
    "forbidden": (403, 2),
    "not_found": (404, 2),
    "conflict": (409, 2),
    "invalid_request": (422, 2),
    "protocol": (None, 2),
    "configuration": (500, 2),
    "check_failed": (500, 1),
    "internal": (500, 4),
    "unavailable": (503, 3),
}


def test_the_catalogue_is_pinned() -> None:
    assert {code.value: entry.category.value for code, entry in CATALOGUE.items()} == PINNED


def test_every_code_has_a_one_line_meaning() -> None:
    for code in ErrorCode:
        assert code.meaning, code
        assert "\n" not in code.meaning, code
        assert len(code.meaning) <= 80, code


def test_each_category_maps_to_one_http_status_and_one_exit_code() -> None:
    mapping = {
        category.value: (HTTP_STATUS.get(category), EXIT_CODES[category])
        for category in ErrorCategory
    }
    assert mapping == PINNED_MAPPING
    assert set(EXIT_CODES) == set(ErrorCategory)
    assert set(HTTP_STATUS) == set(ErrorCategory) - {ErrorCategory.PROTOCOL}


def test_an_unknown_code_is_refused_when_the_error_is_built() -> None:
    with pytest.raises(TypeError, match="not in the error-code catalogue"):
        InvalidInputError("bad", code="no_such_code")  # type: ignore[arg-type]  # the point


def test_a_code_of_another_category_is_refused_when_the_error_is_built() -> None:
    with pytest.raises(TypeError, match="run_exists' is conflict, the class is not_found"):
        NotFoundError("missing", code=ErrorCode.RUN_EXISTS)
    # A catalogued code given as its string is the member itself.
    error = ConflictError("taken", code="run_exists")  # type: ignore[arg-type]  # the point
    assert error.code is ErrorCode.RUN_EXISTS
    assert error.to_dict() == {"code": "run_exists", "message": "taken"}


def test_a_class_whose_default_code_has_another_category_fails_at_definition() -> None:
    with pytest.raises(TypeError, match="is not_found, the class is check_failed"):

        class _WrongError(CheckFailedError):
            default_code = ErrorCode.RUN_NOT_FOUND


def _all_error_classes() -> Iterator[type[AutopackError]]:
    for info in pkgutil.walk_packages(autopack.__path__, "autopack."):
        if ".migrations" not in info.name:
            importlib.import_module(info.name)
    pending: list[type[AutopackError]] = [AutopackError]
    while pending:
        cls = pending.pop()
        yield cls
        pending.extend(cls.__subclasses__())


def test_every_error_class_defaults_to_a_catalogued_code_of_its_category() -> None:
    classes = [c for c in _all_error_classes() if c.__module__.startswith("autopack.")]
    assert len(classes) > 20
    for cls in classes:
        assert isinstance(cls.default_code, ErrorCode), cls
        assert cls.default_code.category is cls.category, cls


def _code_argument_problems(path: Path, error_classes: set[str]) -> list[str]:
    problems = []
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            for statement in node.body:
                if (
                    isinstance(statement, ast.Assign)
                    and any(getattr(t, "id", "") == "default_code" for t in statement.targets)
                    and not _is_member(statement.value)
                ):
                    problems.append(f"{path}:{statement.lineno}: default_code is not ErrorCode.X")
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
        if name not in error_classes:
            continue
        for keyword in node.keywords:
            if keyword.arg == "code" and _is_free_string(keyword.value):
                problems.append(f"{path}:{keyword.value.lineno}: {name}(code=<a free string>)")
            elif (
                keyword.arg == "code"
                and isinstance(keyword.value, ast.Attribute)
                and isinstance(keyword.value.value, ast.Name)
                and keyword.value.value.id == "ErrorCode"
                and keyword.value.attr not in ErrorCode.__members__
            ):
                problems.append(f"{path}:{keyword.value.lineno}: unknown code")
    return problems


def _is_member(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "ErrorCode"
        and node.attr in ErrorCode.__members__
    )


def _is_free_string(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp):
        return _is_free_string(node.left) or _is_free_string(node.right)
    return False


def test_no_raise_site_passes_a_free_string_code() -> None:
    error_classes = {cls.__name__ for cls in _all_error_classes()}
    problems = [
        problem
        for path in sorted(SRC.rglob("*.py"))
        for problem in _code_argument_problems(path, error_classes)
    ]
    assert problems == []


def test_the_source_scan_finds_a_free_string(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "class E(InvalidInputError):\n    default_code = 'x'\n"
        "raise InvalidInputError('m', code='made_up')\n"
        "raise NotFoundError('m', code=f'invalid_{kind}')\n"
        "raise ConflictError('m', code=ErrorCode.NO_SUCH)\n"
        "raise ConflictError('m', code=ErrorCode.RUN_EXISTS)\n"
        "Warning(code='free strings are fine outside errors')\n",
        encoding="utf-8",
    )
    problems = _code_argument_problems(
        sample, {"InvalidInputError", "NotFoundError", "ConflictError"}
    )
    assert [p.split(":")[-2] for p in problems] == ["2", "3", "4", "5"]


# -- the API answers only codes a route declares ----------------------------------------


@pytest.fixture
def declared_app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    router = APIRouter()

    @router.get("/run", responses=error_responses(ErrorCode.RUN_NOT_FOUND, protected=False))
    def run(kind: str) -> None:
        if kind == "declared":
            raise NotFoundError("no run", code=ErrorCode.RUN_NOT_FOUND)
        raise InvalidInputError("bad project", code=ErrorCode.INVALID_IDENTIFIER)

    app.include_router(router)
    return app


def test_a_declared_code_is_answered_with_its_category_status(declared_app: FastAPI) -> None:
    with TestClient(declared_app) as client:
        response = client.get("/run", params={"kind": "declared"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "run_not_found"


def test_an_undeclared_code_is_a_contract_breach(declared_app: FastAPI) -> None:
    with TestClient(declared_app) as client, pytest.warns(UndeclaredErrorCodeWarning) as seen:
        response = client.get("/run", params={"kind": "other"})
    # The client still gets the right answer; the breach is reported (a failure in tests).
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_identifier"
    assert "GET /run answered 'invalid_identifier'" in str(seen[0].message)


def test_a_schema_refusal_on_a_route_not_declaring_422_is_a_breach(
    declared_app: FastAPI,
) -> None:
    with TestClient(declared_app) as client, pytest.warns(UndeclaredErrorCodeWarning):
        response = client.get("/run")  # the required query parameter is missing
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_request"


def test_every_catalogued_code_is_used_somewhere() -> None:
    """No dead codes: each member is referenced outside the catalogue itself."""
    used: set[str] = set()
    for path in SRC.rglob("*.py"):
        if path.name == "error_codes.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and getattr(node.value, "id", "") == "ErrorCode":
                used.add(node.attr)
    assert sorted(set(ErrorCode.__members__) - used) == []
