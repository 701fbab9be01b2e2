"""`autopack notify test|deliver|status|retry`: exit codes, ASCII output, and a real
receiver on 127.0.0.1; bad settings and bad input exit 2 with one line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from receiver_support import SECRET, Receiver, running_receiver

from autopack.domain.notifications import KIND_HEADER
from conftest import invoke_cli
from net_support import free_port


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as found:
        yield found


@pytest.fixture
def notify_env(cli_env: Path, monkeypatch: pytest.MonkeyPatch, receiver: Receiver) -> Receiver:
    monkeypatch.setenv("AUTOPACK_NOTIFY_WEBHOOK_URL", receiver.url)
    monkeypatch.setenv("AUTOPACK_NOTIFY_SECRET", SECRET)
    monkeypatch.setenv("AUTOPACK_NOTIFY_BACKOFF_SECONDS", "0")
    monkeypatch.setenv("AUTOPACK_NOTIFY_MAX_ATTEMPTS", "2")
    return receiver


def test_notify_test_sends_one_signed_notification(
    notify_env: Receiver, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = invoke_cli(["notify", "test"], capsys)
    assert code == 0, err
    port = notify_env.url.split(":")[2].split("/")[0]
    assert out.startswith(f"ok: http://127.0.0.1:{port} answered HTTP 200 (json, id ntf_test_")
    assert "/hook/abc" not in out  # a webhook path may be a secret: never printed
    (got,) = notify_env.requests
    assert got.signed_by(SECRET)
    assert got.headers[KIND_HEADER.lower()] == "test"
    code, out, _ = invoke_cli(["notify", "test", "--json"], capsys)
    assert code == 0
    assert json.loads(out)["status_code"] == 200


def test_notify_test_in_slack_format(
    notify_env: Receiver, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AUTOPACK_NOTIFY_FORMAT", "slack")
    code, out, _ = invoke_cli(["notify", "test"], capsys)
    assert code == 0
    assert "(slack," in out
    body = notify_env.requests[0].json
    assert isinstance(body, dict)
    assert list(body) == ["text"]
    assert body["text"].startswith("[autopack] Autopack test notification")


def test_notify_test_reports_what_went_wrong(
    notify_env: Receiver, capsys: pytest.CaptureFixture[str]
) -> None:
    notify_env.statuses.append(500)
    code, out, err = invoke_cli(["notify", "test"], capsys)
    assert (code, out) == (1, "")
    assert err.strip().endswith("answered HTTP 500")
    closed = f"http://127.0.0.1:{free_port()}/x"
    code, _, err = invoke_cli(["notify", "test", "--url", closed], capsys)
    assert code == 3
    assert "unreachable" in err
    for bad in ("not-a-url", "ftp://host/x", "http://user:pw@host/x", "http://:80/x"):
        code, _, err = invoke_cli(["notify", "test", "--url", bad], capsys)
        assert code == 2, bad
        assert err.startswith("error: invalid webhook URL"), err


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "no webhook configured"),
        ({"AUTOPACK_NOTIFY_WEBHOOK_URL": "http://127.0.0.1:9/x"}, "AUTOPACK_NOTIFY_SECRET"),
        (
            {"AUTOPACK_NOTIFY_WEBHOOK_URL": "gopher://x", "AUTOPACK_NOTIFY_SECRET": SECRET},
            "AUTOPACK_NOTIFY_WEBHOOK_URL",
        ),
        ({"AUTOPACK_NOTIFY_FORMAT": "xml"}, "AUTOPACK_NOTIFY_FORMAT"),
        (
            {
                "AUTOPACK_NOTIFY_WEBHOOK_URL": "http://127.0.0.1:9/x",
                "AUTOPACK_NOTIFY_SECRET": "short",
            },
            "16+",
        ),
    ],
)
def test_bad_or_missing_settings_exit_2(
    cli_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    message: str,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code, _, err = invoke_cli(["notify", "test"], capsys)
    assert code == 2
    assert message in err
    assert err.count("\n") == 1


def test_deliver_status_and_retry(notify_env: Receiver, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = invoke_cli(
        ["halt", "engage", "--scope", "all", "--reason", "stop \u00e9", "--as", "alice"], capsys
    )
    assert code == 0, err
    notify_env.statuses.extend([500, 500])
    for _ in range(2):
        code, out, err = invoke_cli(["notify", "deliver", "--once"], capsys)
        assert code == 0, err
    assert out.strip() == "delivered: 0  failed attempts: 1  new holds: 0"
    code, out, _ = invoke_cli(["notify", "status"], capsys)
    assert code == 0
    assert out.isascii()
    assert "pending: 0 (in flight 0, retrying 0)  delivered: 0  dead: 1" in out
    assert "halt_engaged  halt 1  attempts 2  last error: the receiver answered HTTP 500" in out
    code, out, _ = invoke_cli(["notify", "status", "--json"], capsys)
    report = json.loads(out)
    dead_id = report["dead"][0]["id"]
    assert report["counts"]["dead"] == 1
    assert "\\u00e9" in out  # ASCII-safe JSON
    code, _, err = invoke_cli(["notify", "retry"], capsys)
    assert code == 2
    code, _, err = invoke_cli(["notify", "retry", "ntf_nope"], capsys)
    assert code == 2
    assert "no dead notification" in err
    code, out, _ = invoke_cli(["notify", "retry", dead_id], capsys)
    assert (code, out.strip()) == (0, "revived: 1")
    code, out, _ = invoke_cli(["notify", "deliver", "--once", "--json"], capsys)
    assert json.loads(out) == {"delivered": 1, "failed": 0, "holds_written": 0}
    assert len(notify_env.distinct_ids()) == 1


def test_deliver_without_a_webhook_exits_2(
    cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = invoke_cli(["notify", "deliver", "--once"], capsys)
    assert code == 2
    assert "notifications are off" in err
    code, out, _ = invoke_cli(["notify", "status"], capsys)
    assert code == 0
    assert out.startswith("webhook: not configured")
