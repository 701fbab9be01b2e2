"""The operator console end to end: a real `autopack serve` (serving the built
console), `autopack worker` and `autopack sandbox serve`, driven in Debian's
headless Chromium. An operator logs in, reads a pending action's exact request,
approves it and watches it succeed; an agent cannot approve (no button, and the
API answers 403 to its session); a halt engaged from the page holds a second
approved action until it is released. Screenshots of each view land in the
test's tmp dir (and in $CONSOLE_SCREENSHOTS when set, to refresh docs/images)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from console_support import LOG_FAILURES, REPO, chromium, console_stack, require_browser
from sandbox_support import running_sandbox

if TYPE_CHECKING:
    from playwright.sync_api import ViewportSize

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}


def _propose(url: str, key: str, idem: str, payload: dict[str, Any]) -> dict[str, Any]:
    answer = httpx.post(
        f"{url}/api/actions",
        headers={"X-API-Key": key},
        json={
            "provider": "sandbox",
            "action": "video.upload",
            "key": idem,
            "account": "main",
            "project": "demo",
            "payload_json": json.dumps(payload),
        },
        timeout=30,
    )
    assert answer.status_code == 201, answer.text
    action: dict[str, Any] = answer.json()["action"]
    return action


def _status(url: str, key: str, idem: str) -> dict[str, Any]:
    answer = httpx.get(f"{url}/api/actions/{idem}", headers={"X-API-Key": key}, timeout=30)
    assert answer.status_code == 200, answer.text
    detail: dict[str, Any] = answer.json()
    return detail


def _shoot(page: Any, shots: Path, name: str) -> None:
    page.screenshot(path=str(shots / f"{name}.png"), full_page=False)


def test_operator_console_end_to_end(tmp_path: Path, database_url: str) -> None:
    require_browser()
    from playwright.sync_api import expect

    shots = tmp_path / "screenshots"
    shots.mkdir()
    with (
        running_sandbox(tmp_path, via_cli=True) as sandbox,
        console_stack(tmp_path, database_url, sandbox.url) as stack,
        chromium() as browser,
    ):
        operator = stack.cli("principals", "add", "alice", "--role", "operator", "--json")
        agent = stack.cli("principals", "add", "publisher-bot", "--role", "agent", "--json")
        op_key, agent_key = operator["api_key"], agent["api_key"]
        first = _propose(
            stack.url, agent_key, "video-1", {"title": "Launch video", "privacy": "public"}
        )
        # An earlier upload of the same provider action: the inbox shows the diff.
        assert first["status"] == "awaiting_approval"

        # -- the operator: log in with the keyboard, read the render, approve -----------
        context = browser.new_context(viewport=DESKTOP)
        page = context.new_page()
        # The CSP has no unsafe-inline: a refused script or style would show here.
        refused_by_csp: list[str] = []
        page.on(
            "console",
            lambda m: (
                refused_by_csp.append(m.text) if "Content Security Policy" in m.text else None
            ),
        )
        page.goto(stack.url + "/")
        _shoot(page, shots, "login")
        page.get_by_label("API key").focus()
        page.keyboard.type(op_key)
        page.keyboard.press("Enter")
        expect(page.get_by_test_id("who")).to_have_text("alice (operator)")
        assert op_key not in page.content()
        stored = page.evaluate("() => JSON.stringify([localStorage, sessionStorage])")
        assert op_key not in stored
        cookies = {c["name"]: c for c in context.cookies()}
        assert cookies["autopack_session"]["httpOnly"] is True
        assert cookies["autopack_session"]["sameSite"] == "Strict"
        assert "autopack_session" not in page.evaluate("() => document.cookie")

        row = page.get_by_role("button", name=re.compile(r"#\d+ sandbox video.upload"))
        expect(row).to_have_count(1)
        row.click()
        rendered = page.get_by_role("region", name="Dry-run request of video-1")
        expect(rendered).to_contain_text("POST")
        expect(rendered).to_contain_text(sandbox.url)
        expect(rendered).to_contain_text("Launch video")
        expect(page.get_by_test_id("subject-hash")).to_have_text(first["payload_hash"])
        expect(page.get_by_test_id("two-person")).to_contain_text("0 of 1")
        _shoot(page, shots, "inbox")
        page.get_by_role("button", name=re.compile("Approve hash")).click()
        expect(page.get_by_text(re.compile(r"Approval \d+ approved\."))).to_be_visible()
        expect(page.get_by_text("Nothing waits for a person")).to_be_visible()

        page.get_by_role("link", name="Actions").click()
        page.get_by_role("button", name=re.compile("video-1")).click()
        # The page polls: the worker sends it and the detail turns succeeded by itself.
        expect(page.get_by_role("heading", name=re.compile("video-1 · succeeded"))).to_be_visible(
            timeout=30_000
        )
        object_id = _status(stack.url, op_key, "video-1")["action"]["provider_object_id"]
        assert object_id
        expect(page.get_by_test_id("provider-object-id")).to_have_text(object_id)
        expect(page.get_by_label("Event timeline")).to_contain_text("succeeded")
        _shoot(page, shots, "actions")

        # -- an agent: no approval view, no button, and the API refuses its session -----
        second = _propose(
            stack.url, agent_key, "video-2", {"title": "Launch video v2", "privacy": "public"}
        )
        agent_context = browser.new_context(viewport=DESKTOP)
        agent_page = agent_context.new_page()
        agent_page.goto(stack.url + "/")
        agent_page.get_by_label("API key").fill(agent_key)
        agent_page.get_by_role("button", name="Sign in").click()
        expect(agent_page.get_by_test_id("who")).to_have_text("publisher-bot (agent)")
        nav = agent_page.get_by_role("navigation", name="Console views")
        expect(nav.get_by_role("link")).to_have_text(["Actions"])
        agent_page.goto(stack.url + "/#/inbox")
        expect(agent_page.get_by_role("alert")).to_contain_text("needs the read_all permission")
        expect(agent_page.get_by_role("button", name=re.compile("Approve"))).to_have_count(0)
        _shoot(agent_page, shots, "agent-forbidden")
        refused = agent_page.evaluate(
            """async ([id, hash]) => {
                const csrf = document.cookie.split("; ")
                    .find((c) => c.startsWith("autopack_csrf=")).split("=")[1];
                const answer = await fetch(`/api/approvals/${id}/approve`, {
                    method: "POST",
                    headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
                    body: JSON.stringify({hash}),
                });
                return [answer.status, (await answer.json()).error.code];
            }""",
            [second["approval_id"], second["payload_hash"]],
        )
        assert refused == [403, "forbidden"]
        agent_context.close()

        # -- a halt from the page holds the second action until it is released ----------
        page.get_by_role("link", name="Halts").click()
        page.get_by_label("Scope").fill("provider:sandbox")
        page.get_by_label("Reason").fill("launch freeze")
        page.get_by_role("button", name="Engage halt…").click()
        expect(page.get_by_role("alertdialog")).to_contain_text("Engage this halt?")
        _shoot(page, shots, "halt-confirm")
        page.get_by_role("button", name="Yes, engage halt").click()
        expect(page.get_by_test_id("halt-row")).to_have_count(1)
        _shoot(page, shots, "halts")

        page.get_by_role("link", name="Approvals").click()
        page.get_by_role("button", name=re.compile(r"#\d+ sandbox video.upload")).click()
        # The earlier payload of the same provider action, as a diff.
        diff = page.get_by_label(re.compile("Changes since video-1"))
        expect(diff).to_contain_text('- "title": "Launch video"')
        expect(diff).to_contain_text('+ "title": "Launch video v2"')
        page.get_by_role("button", name=re.compile("Approve hash")).click()
        expect(page.get_by_text(re.compile(r"Approval \d+ approved\."))).to_be_visible()

        page.get_by_role("link", name="Actions").click()
        page.get_by_role("button", name=re.compile("video-2")).click()
        expect(page.get_by_test_id("waiting-reason")).to_contain_text("halt", timeout=15_000)
        time.sleep(1.5)  # several worker polls: it must still wait
        held = _status(stack.url, op_key, "video-2")
        assert held["action"]["status"] == "approved"
        assert held["waiting_reason"]
        assert len(sandbox.effects()) == 1
        _shoot(page, shots, "action-held")

        page.get_by_role("link", name="Halts").click()
        page.get_by_role("button", name=re.compile("Release halt")).click()
        page.get_by_role("button", name="Yes, release halt").click()
        expect(page.get_by_text("No halt is engaged")).to_be_visible()
        page.get_by_role("link", name="Actions").click()
        page.get_by_role("button", name=re.compile("video-2")).click()
        expect(page.get_by_role("heading", name=re.compile("video-2 · succeeded"))).to_be_visible(
            timeout=30_000
        )
        assert len(sandbox.effects()) == 2

        # -- phone width: one column, nothing wider than the screen ------------------------
        page.set_viewport_size(PHONE)
        page.get_by_role("link", name="Approvals").click()
        expect(page.get_by_text("Nothing waits for a person")).to_be_visible()
        assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
        _shoot(page, shots, "phone-inbox")

        # -- an admin sees credential health (never a secret) ----------------------------
        admin = stack.cli("principals", "add", "ops-admin", "--role", "admin", "--json")
        admin_context = browser.new_context(viewport=DESKTOP)
        admin_page = admin_context.new_page()
        admin_page.goto(stack.url + "/#/credentials")
        admin_page.get_by_label("API key").fill(admin["api_key"])
        admin_page.get_by_role("button", name="Sign in").click()
        expect(admin_page.get_by_role("heading", name="Credentials health")).to_be_visible()
        expect(admin_page.get_by_text("No credentials are stored")).to_be_visible()
        _shoot(admin_page, shots, "credentials")
        admin_context.close()

        # -- logout ends the session at once -----------------------------------------------
        token = next(c["value"] for c in context.cookies() if c["name"] == "autopack_session")
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_label("API key")).to_be_visible()
        replay = httpx.get(
            f"{stack.url}/api/session", cookies={"autopack_session": token}, timeout=10
        )
        assert replay.status_code == 401
        context.close()

        assert refused_by_csp == []
        logs = stack.log_text()
        for failure in LOG_FAILURES:
            assert failure not in logs, logs[-3000:]
        for secret in (op_key, agent_key, admin["api_key"], token, stack.env["AUTOPACK_API_KEY"]):
            assert secret not in logs
    target = os.environ.get("CONSOLE_SCREENSHOTS")
    if target:
        for shot in shots.iterdir():
            shutil.copyfile(shot, Path(target) / f"console-{shot.name}")


def test_console_bench_prints_one_json_line(tmp_path: Path) -> None:
    require_browser()
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "console_bench.py"),
            "--pending",
            "60",
            "--runs",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert result["pending_approvals"] == 60
    assert result["rows_shown"] == 50  # one page of the oldest; the rest wait behind
    assert 0 < result["bundle_js_gzip_bytes"] <= result["bundle_target_bytes"]
    assert result["inbox_first_rows_ms"] > 0
