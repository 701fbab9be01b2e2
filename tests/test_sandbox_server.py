"""The sandbox server over raw HTTP: shapes, modes, control API, validation, entry points."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from autopack.domain.canonical import canonical_hash
from autopack.domain.sandbox_protocol import (
    FAULT_HEADER,
    IDEMPOTENCY_HEADER,
    MAX_BODY_BYTES,
    READY_PREFIX,
    REPLAYED_HEADER,
)
from sandbox_support import SandboxProcess, running_sandbox, start_sandbox


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[SandboxProcess]:
    with running_sandbox(tmp_path) as sbx:
        yield sbx


def _post(
    sbx: SandboxProcess, kind: str, body: Any, key: str | None = None, **headers: str
) -> httpx.Response:
    all_headers = dict(headers)
    if key is not None:
        all_headers[IDEMPOTENCY_HEADER] = key
    return httpx.post(f"{sbx.url}/v1/{kind}", json=body, headers=all_headers, trust_env=False)


def _get(sbx: SandboxProcess, path: str, **params: str) -> httpx.Response:
    return httpx.get(f"{sbx.url}{path}", params=params, trust_env=False)


def test_create_read_and_lookup_have_provider_shapes(sandbox: SandboxProcess) -> None:
    created = _post(sandbox, "videos", {"title": "Hello", "client_ref": "m-1"}, key="k-1")
    assert created.status_code == 201
    assert created.headers["Connection"] == "close"
    obj = created.json()
    assert obj["id"].startswith("vid_")
    assert obj["object"] == "video"
    assert obj["client_ref"] == "m-1"
    assert obj["data"] == {"title": "Hello", "client_ref": "m-1"}
    assert obj["created_at"].endswith("Z")

    assert _get(sandbox, f"/v1/videos/{obj['id']}").json() == obj
    assert _get(sandbox, "/v1/videos/vid_0000").status_code == 404
    assert _get(sandbox, f"/v1/orders/{obj['id']}").status_code == 404  # kinds are separate
    assert _get(sandbox, "/v1/videos", client_ref="m-1").json() == {"count": 1, "data": [obj]}
    assert _get(sandbox, "/v1/videos", idempotency_key="k-1").json()["data"] == [obj]
    assert _get(sandbox, "/v1/videos", client_ref="other").json() == {"count": 0, "data": []}
    assert _get(sandbox, "/v1/videos").status_code == 400  # a lookup needs a filter

    (effect,) = sandbox.effects()
    assert effect["id"] == obj["id"]
    assert effect["idempotency_key"] == "k-1"
    assert effect["body_hash"] == canonical_hash({"title": "Hello", "client_ref": "m-1"})


def test_every_kind_creates_with_its_prefix(sandbox: SandboxProcess) -> None:
    bodies = {
        "videos": ("vid_", {"title": "v"}),
        "listings": ("lst_", {"title": "l"}),
        "products": ("prd_", {"title": "p"}),
        "orders": ("ord_", {"symbol": "AAPL", "qty": "1", "side": "buy"}),
    }
    for kind, (prefix, body) in bodies.items():
        response = _post(sandbox, kind, body)
        assert response.status_code == 201, response.text
        assert response.json()["id"].startswith(prefix)
    assert sorted(e["kind"] for e in sandbox.effects()) == sorted(bodies)


def test_idempotent_mode_replays_and_refuses_a_different_body(sandbox: SandboxProcess) -> None:
    first = _post(sandbox, "listings", {"title": "a"}, key="same")
    again = _post(sandbox, "listings", {"title": "a"}, key="same")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.headers[REPLAYED_HEADER] == "true"
    assert REPLAYED_HEADER not in first.headers
    assert again.json() == first.json()

    other_body = _post(sandbox, "listings", {"title": "b"}, key="same")
    other_kind = _post(sandbox, "products", {"title": "a"}, key="same")
    assert other_body.status_code == 422
    assert other_body.json()["error"]["code"] == "idempotency_conflict"
    assert other_kind.status_code == 422
    assert len(sandbox.effects()) == 1
    results = [r["result"] for r in sandbox.requests()]
    assert results == ["created", "replayed", "conflict", "conflict"]


def test_lookup_only_mode_ignores_the_key_but_finds_by_marker(tmp_path: Path) -> None:
    with running_sandbox(tmp_path, mode="lookup_only") as sbx:
        a = _post(sbx, "products", {"title": "t", "client_ref": "m"}, key="k")
        b = _post(sbx, "products", {"title": "t", "client_ref": "m"}, key="k")
        assert (a.status_code, b.status_code) == (201, 201)
        assert a.json()["id"] != b.json()["id"]
        assert [e["idempotency_key"] for e in sbx.effects()] == [None, None]
        found = _get(sbx, "/v1/products", client_ref="m").json()
        assert [o["id"] for o in found["data"]] == [a.json()["id"], b.json()["id"]]
        assert _get(sbx, "/v1/products", idempotency_key="k").json()["count"] == 0


def test_none_mode_has_neither_idempotency_nor_lookup(tmp_path: Path) -> None:
    with running_sandbox(tmp_path, mode="none") as sbx:
        a = _post(sbx, "orders", {"symbol": "X", "qty": "1", "side": "buy"}, key="k")
        b = _post(sbx, "orders", {"symbol": "X", "qty": "1", "side": "buy"}, key="k")
        assert a.json()["id"] != b.json()["id"]
        lookup = _get(sbx, "/v1/orders", client_ref="m")
        assert lookup.status_code == 501
        assert lookup.json()["error"]["code"] == "not_implemented"
        assert _get(sbx, f"/v1/orders/{a.json()['id']}").status_code == 200
        assert len(sbx.effects()) == 2


def test_mode_is_switchable_and_reset_restores_the_start(sandbox: SandboxProcess) -> None:
    assert sandbox.health()["mode"] == "idempotent"
    sandbox.set_mode("none")
    assert sandbox.health()["mode"] == "none"
    assert _get(sandbox, "/v1/videos", client_ref="x").status_code == 501
    _post(sandbox, "videos", {"title": "t"})
    sandbox.set_faults({"kind": "http_5xx"})
    bad = httpx.post(f"{sandbox.url}/_control/mode", json={"mode": "sometimes"}, trust_env=False)
    assert bad.status_code == 400
    sandbox.reset()
    health = sandbox.health()
    assert (health["mode"], health["start_mode"], health["pending_faults"]) == (
        "idempotent",
        "idempotent",
        0,
    )
    assert sandbox.effects() == []
    assert sandbox.requests() == []


@pytest.mark.parametrize(
    ("kind", "content", "status", "code"),
    [
        ("videos", b"{not json", 400, "invalid_json"),
        ("videos", b"[1, 2]", 422, "invalid_body"),
        ("videos", b'{"description": "no title"}', 422, "invalid_body"),
        ("orders", b'{"symbol": "X", "side": "buy"}', 422, "invalid_body"),
        ("videos", b'{"title": "t", "client_ref": 5}', 422, "invalid_body"),
        ("gadgets", b'{"title": "t"}', 404, "unknown_kind"),
    ],
)
def test_bad_requests_are_refused_without_effect(
    sandbox: SandboxProcess, kind: str, content: bytes, status: int, code: str
) -> None:
    response = httpx.post(f"{sandbox.url}/v1/{kind}", content=content, trust_env=False)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert sandbox.effects() == []


def test_oversized_and_unroutable_requests(sandbox: SandboxProcess) -> None:
    big = json.dumps({"title": "x" * (MAX_BODY_BYTES + 1)}).encode()
    response = httpx.post(f"{sandbox.url}/v1/videos", content=big, trust_env=False)
    assert response.status_code == 413
    assert _get(sandbox, "/v2/videos").status_code == 404
    assert httpx.delete(f"{sandbox.url}/v1/videos", trust_env=False).status_code == 405
    assert httpx.post(f"{sandbox.url}/v1/videos/vid_1", trust_env=False).status_code == 405
    assert _get(sandbox, "/_control/nothing").status_code == 404
    assert sandbox.effects() == []


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "explode"},
        {"kind": "delay", "seconds": -1},
        {"kind": "http_5xx", "status": 404},
        {"kind": "http_4xx", "status": 503},
        {"kind": "crash_after_commit", "on": "lookup"},
        {"kind": "lost_response", "colour": "red"},
        {"kind": "delay", "times": 0},
        {"kind": "leak_secret", "secret": ""},
    ],
)
def test_control_refuses_bad_faults_and_queues_nothing(
    sandbox: SandboxProcess, fault: dict[str, Any]
) -> None:
    response = httpx.post(f"{sandbox.url}/_control/faults", json=fault, trust_env=False)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_fault"
    assert sandbox.pending_faults() == []


def test_faults_apply_in_order_with_times_and_match(sandbox: SandboxProcess) -> None:
    pending = sandbox.set_faults(
        {"kind": "http_5xx", "match": "target"},
        {"kind": "http_429", "times": 2, "retry_after": 9},
    )
    assert [f["kind"] for f in pending] == ["http_5xx", "http_429"]
    assert pending[0]["status"] == 503

    first = _post(sandbox, "videos", {"title": "a"}, key="bystander")
    assert first.status_code == 429
    assert first.headers["Retry-After"] == "9"
    target = _post(sandbox, "videos", {"title": "a"}, key="target")
    assert target.status_code == 503
    assert _post(sandbox, "videos", {"title": "a"}, key="target").status_code == 429
    assert sandbox.pending_faults() == []
    assert _post(sandbox, "videos", {"title": "a"}, key="target").status_code == 201
    assert [r["result"] for r in sandbox.requests()] == [
        "throttled",
        "refused",
        "throttled",
        "created",
    ]
    assert len(sandbox.effects()) == 1
    sandbox.set_faults({"kind": "delay"}, {"kind": "delay"})
    sandbox.clear_faults()
    assert sandbox.pending_faults() == []


def test_fault_header_targets_one_request_and_keeps_the_queue(sandbox: SandboxProcess) -> None:
    sandbox.set_faults({"kind": "http_5xx"})
    fault = json.dumps({"kind": "http_5xx_after_commit", "status": 502})
    response = _post(sandbox, "videos", {"title": "h"}, **{FAULT_HEADER: fault})
    assert response.status_code == 502
    assert len(sandbox.effects()) == 1  # committed before the 502
    assert len(sandbox.pending_faults()) == 1
    bad = _post(sandbox, "videos", {"title": "h"}, **{FAULT_HEADER: "{nope"})
    assert bad.status_code == 400
    assert len(sandbox.effects()) == 1


def test_lookup_faults_are_separate_from_create_faults(sandbox: SandboxProcess) -> None:
    sandbox.set_faults({"kind": "http_5xx", "on": "lookup"})
    assert _post(sandbox, "videos", {"title": "t", "client_ref": "m"}).status_code == 201
    assert _get(sandbox, "/v1/videos", client_ref="m").status_code == 503
    assert _get(sandbox, "/v1/videos", client_ref="m").json()["count"] == 1
    lookups = [(r["op"], r["result"], r["fault"]) for r in sandbox.requests()][1:]
    assert lookups == [("lookup", "faulted", "http_5xx"), ("lookup", "answered", None)]


def test_token_protects_the_api_but_not_the_control_routes(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("sandbox-test-token-0123456789\n", encoding="utf-8")
    with running_sandbox(tmp_path, token_file=token_file) as sbx:
        assert _post(sbx, "videos", {"title": "t"}).status_code == 401
        wrong = _post(sbx, "videos", {"title": "t"}, Authorization="Bearer nope")
        assert wrong.status_code == 401
        good = _post(
            sbx, "videos", {"title": "t"}, Authorization="Bearer sandbox-test-token-0123456789"
        )
        assert good.status_code == 201
        assert len(sbx.effects()) == 1


def test_fault_plan_file_queues_faults_at_start(tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps([{"kind": "http_4xx", "status": 409}]), encoding="utf-8")
    with running_sandbox(tmp_path, fault_plan=plan) as sbx:
        assert [f["status"] for f in sbx.pending_faults()] == [409]
        assert _post(sbx, "videos", {"title": "t"}).status_code == 409
        assert sbx.effects() == []


def test_cli_entry_prints_the_ready_line_and_picks_a_free_port(tmp_path: Path) -> None:
    sbx = start_sandbox(tmp_path / "cli.db", mode="lookup_only", via_cli=True)
    try:
        assert sbx.port > 0
        assert sbx.health()["mode"] == "lookup_only"
        assert "sandbox: mode lookup_only" in sbx.log_path.read_text(encoding="utf-8")
    finally:
        sbx.stop()
    assert sbx.returncode == 0  # SIGTERM is a clean stop


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--host", "0.0.0.0"], "loopback only"),  # noqa: S104 - proving it is refused
        (["--fault-plan", "missing.json"], "fault plan"),
        (["--token-file", "missing.token"], "token file"),
    ],
)
def test_bad_start_options_exit_2_with_one_line(
    tmp_path: Path, args: list[str], message: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "autopack.sandbox", "--port", "0", "--store", "s.db", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert message in result.stderr
    assert READY_PREFIX not in result.stdout


def test_cli_refuses_a_busy_port_with_exit_2(sandbox: SandboxProcess, tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "autopack",
            "sandbox",
            "serve",
            "--port",
            str(sandbox.port),
            "--store",
            str(tmp_path / "other.db"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "cannot listen on 127.0.0.1:" in result.stderr
