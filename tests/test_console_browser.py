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


# -- the views added with policy, runs, packets and notifications -------------------

# No sandbox provider is needed by these views: the stack gets an address nothing uses.
NO_SANDBOX = "http://127.0.0.1:9"


def _login(browser: Any, url: str, key: str, route: str) -> tuple[Any, Any, list[str]]:
    """A signed-in page on ``#/<route>``, and the CSP refusals it logs."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    refused: list[str] = []
    page.on(
        "console",
        lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None,
    )
    page.goto(f"{url}/#/{route}")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("who")).to_contain_text("(operator)")
    return context, page, refused


def _local_runtime(directory: Path, database_url: str) -> Any:
    """The stack's workspace and database, opened in this process (as the CLI would)."""
    from autopack.services.runtime import build_runtime
    from conftest import make_settings

    return build_runtime(make_settings(directory, database_url))


def _check_logs(stack: Any, *secrets: str) -> None:
    logs = stack.log_text()
    for failure in LOG_FAILURES:
        assert failure not in logs, logs[-3000:]
    for secret in secrets:
        assert secret not in logs


def _keep(shots: Path) -> None:
    target = os.environ.get("CONSOLE_SCREENSHOTS")
    if target:
        for shot in shots.iterdir():
            shutil.copyfile(shot, Path(target) / f"console-{shot.name}")


def test_policy_view_shows_snapshots_and_the_diff_and_acknowledges(
    tmp_path: Path, database_url: str
) -> None:
    require_browser()
    from playwright.sync_api import expect

    from autopack.services.policy_monitor import PolicyMonitor
    from policy_support import clear_policy, policy_site

    shots = tmp_path / "screenshots"
    shots.mkdir()
    with (
        console_stack(tmp_path, database_url, NO_SANDBOX, worker=False) as stack,
        chromium() as browser,
    ):
        rt = _local_runtime(tmp_path, database_url)
        try:
            # First snapshots (acknowledged), then YouTube's terms change: one pending diff.
            clear_policy(rt, "youtube", "etsy")
            changed = "<html><body><h1>Terms</h1><p>Publish only what you own.</p></body></html>"
            reports = PolicyMonitor(rt, transport=policy_site(changed)).fetch("youtube")
            assert {r["outcome"] for r in reports} == {"changed"}, reports
        finally:
            rt.close()
        operator = stack.cli("principals", "add", "alice", "--role", "operator", "--json")
        context, page, refused = _login(browser, stack.url, operator["api_key"], "policy")
        expect(
            page.get_by_role("heading", name=re.compile("youtube · unacknowledged"))
        ).to_be_visible()
        expect(page.get_by_role("heading", name=re.compile("etsy · current"))).to_be_visible()
        pages = page.get_by_label("Policy pages of youtube").get_by_test_id("policy-page")
        expect(pages.first).to_contain_text("unacknowledged")
        diff = page.get_by_label(re.compile("^Changes to https://")).first
        expect(diff).to_contain_text("- Publish only what you may.")
        expect(diff).to_contain_text("+ Publish only what you own.")
        page.get_by_role("heading", name=re.compile("youtube · ")).scroll_into_view_if_needed()
        _shoot(page, shots, "policy")
        # One acknowledgement covers every page whose change is the same pair of
        # snapshots; a page that changed otherwise needs its own.
        acknowledge = page.get_by_role("button", name="Acknowledge change…")
        for _ in range(5):
            if acknowledge.count() == 0:
                break
            acknowledge.first.click()
            page.get_by_role("button", name=re.compile("Yes, acknowledge")).click()
            notice = page.get_by_text(re.compile(r"Acknowledged \d+ pages? of youtube as alice"))
            expect(notice).to_be_visible()
            page.wait_for_timeout(500)  # the list refreshes after an acknowledgement
        expect(page.get_by_role("heading", name=re.compile("youtube · current"))).to_be_visible(
            timeout=20_000
        )
        answer = httpx.get(
            f"{stack.url}/api/policy", headers={"X-API-Key": operator["api_key"]}, timeout=10
        )
        standing = {p["provider"]: p["standing"] for p in answer.json()["providers"]}
        assert standing["youtube"] == "current"
        context.close()
        assert refused == []
        _check_logs(stack, operator["api_key"])
    _keep(shots)


def test_runs_view_shows_the_handoff_and_writes_a_brief(tmp_path: Path, database_url: str) -> None:
    require_browser()
    from playwright.sync_api import expect

    from autopack.domain.canonical import sha256_hex
    from autopack.services.handoff.context import ContextService
    from autopack.services.runs import RunService

    shots = tmp_path / "screenshots"
    shots.mkdir()
    with (
        console_stack(tmp_path, database_url, NO_SANDBOX, worker=False) as stack,
        chromium() as browser,
    ):
        rt = _local_runtime(tmp_path, database_url)
        try:
            run = RunService(rt).create("demo", "launch", "launch-1")
            ContextService(rt).generate(
                "launch-1",
                goals=["Ship the launch video"],
                constraints=["Nothing public before review"],
                questions=["Which thumbnail?"],
            )
        finally:
            rt.close()
        operator = stack.cli("principals", "add", "alice", "--role", "operator", "--json")
        agent = stack.cli("principals", "add", "helper-bot", "--role", "agent", "--json")
        context, page, refused = _login(browser, stack.url, operator["api_key"], "runs")
        page.get_by_role("button", name=re.compile("launch-1")).click()
        handoff = page.get_by_role("region", name="Handoff context")
        expect(handoff).to_contain_text("Ship the launch video")
        expect(handoff).to_contain_text("Nothing public before review")
        expect(handoff).to_contain_text("Which thumbnail?")
        expect(page.get_by_text("No brief written for this run.")).to_be_visible()
        # The operator writes a brief from the page (POST .../handoff/briefs).
        page.get_by_label("Task").select_option("review")
        page.get_by_label("Goal").fill("Review the launch titles")
        page.get_by_role("button", name="Write brief").click()
        expect(page.get_by_text(re.compile(r"Brief \w+ written"))).to_be_visible()
        briefs = page.get_by_role("list", name="Briefs")
        expect(briefs).to_contain_text("handoff/briefs/")
        # A helper answers through the API; the page shows its accepted output.
        key = {"X-API-Key": agent["api_key"]}
        shown = httpx.get(f"{stack.url}/api/runs/launch-1/handoff", headers=key, timeout=10)
        (brief_path,) = shown.json()["briefs"]
        directory = Path(run.directory)
        brief_file = directory / brief_path
        brief = json.loads(brief_file.read_text("utf-8"))
        output = {
            "schema": "autopack.handoff-output/1",
            "brief_id": brief["id"],
            "brief_sha256": sha256_hex(brief_file.read_bytes()),
            "summary": "Two titles compared; the shorter one reads better.",
            "findings": [
                {
                    "claim": "The context names the goal.",
                    "evidence": [
                        {
                            "path": "handoff/context.md",
                            "sha256": sha256_hex((directory / "handoff/context.md").read_bytes()),
                        }
                    ],
                }
            ],
            "proposed_actions": [],
            "open_questions": [],
            "confidence": "medium",
        }
        accepted = httpx.post(
            f"{stack.url}/api/runs/launch-1/handoff/outputs",
            content=json.dumps(output).encode(),
            headers={**key, "Content-Type": "application/json"},
            timeout=30,
        )
        assert accepted.status_code == 201, accepted.text
        page.reload()
        page.get_by_role("button", name=re.compile("launch-1")).click()
        expect(page.get_by_role("list", name="Accepted outputs")).to_contain_text(
            "the shorter one reads better"
        )
        _shoot(page, shots, "runs")
        context.close()
        assert refused == []
        _check_logs(stack, operator["api_key"], agent["api_key"])
    _keep(shots)


def test_inbox_previews_packet_media_and_refuses_a_changed_file(
    tmp_path: Path, database_url: str
) -> None:
    require_browser()
    from playwright.sync_api import expect

    from autopack.services.packet_refs import packet_service
    from console_support import png_image
    from policy_support import clear_policy

    shots = tmp_path / "screenshots"
    shots.mkdir()
    image = png_image(96, 64)
    with (
        console_stack(tmp_path, database_url, NO_SANDBOX, worker=False) as stack,
        chromium() as browser,
    ):
        (tmp_path / "in").mkdir()
        (tmp_path / "in" / "front.png").write_bytes(image)
        # The repository's example listing (every field Etsy's render needs).
        example = json.loads((REPO / "examples/etsy/listing.create/payload.json").read_text())
        spec = {k: example[k] for k in ("provider", "action", "fields", "disclosures")}
        (tmp_path / "in" / "spec.json").write_text(json.dumps(spec), encoding="utf-8")
        rt = _local_runtime(tmp_path, database_url)
        try:
            clear_policy(rt, "etsy")
            packet = packet_service(rt).build(
                tmp_path / "in" / "spec.json", [tmp_path / "in" / "front.png"]
            )
        finally:
            rt.close()
        operator = stack.cli("principals", "add", "alice", "--role", "operator", "--json")
        agent = stack.cli("principals", "add", "shop-bot", "--role", "agent", "--json")
        proposed = httpx.post(
            f"{stack.url}/api/actions",
            headers={"X-API-Key": agent["api_key"]},
            json={
                "provider": "etsy",
                "action": "listing.create",
                "key": "mug-1",
                "account": "shop1",
                "payload_json": json.dumps(packet.document),
            },
            timeout=30,
        )
        assert proposed.status_code == 201, proposed.text
        context, page, refused = _login(browser, stack.url, operator["api_key"], "inbox")
        page.get_by_role("button", name=re.compile(r"#\d+ etsy listing.create")).click()
        media = page.get_by_role("region", name="Packet media")
        item = media.get_by_test_id("packet-media")
        expect(item).to_contain_text(f"front.png · image/png · {len(image)} B")
        expect(item).to_contain_text(packet.document["media"][0]["sha256"])
        preview = media.get_by_role("img", name="Preview of front.png")
        expect(preview).to_be_visible()
        page.wait_for_function(
            "() => { const i = document.querySelector('img[alt=\"Preview of front.png\"]');"
            " return i && i.complete && i.naturalWidth === 96; }",
            timeout=15_000,
        )
        media.scroll_into_view_if_needed()
        _shoot(page, shots, "inbox-media")
        # The file changes under the packet: the API refuses it and the page says why.
        (tmp_path / "in" / "front.png").write_bytes(png_image(96, 64, (200, 0, 0)))
        page.reload()
        page.get_by_role("button", name=re.compile(r"#\d+ etsy listing.create")).click()
        expect(
            page.get_by_role("region", name="Packet media").get_by_role("alert")
        ).to_contain_text("media_changed")
        expect(page.get_by_role("img", name="Preview of front.png")).to_have_count(0)
        context.close()
        assert refused == []
        _check_logs(stack, operator["api_key"], agent["api_key"])
    _keep(shots)


def test_halts_view_shows_notification_delivery(tmp_path: Path, database_url: str) -> None:
    require_browser()
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from playwright.sync_api import expect

    received: list[bytes] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{server.server_address[1]}"
    secret = "console-notify-secret-0123456789"
    shots = tmp_path / "screenshots"
    shots.mkdir()
    try:
        with (
            console_stack(
                tmp_path,
                database_url,
                NO_SANDBOX,
                extra_env={
                    "AUTOPACK_NOTIFY_WEBHOOK_URL": f"{origin}/hooks/T1/pathsecret42",
                    "AUTOPACK_NOTIFY_SECRET": secret,
                },
            ) as stack,
            chromium() as browser,
        ):
            operator = stack.cli("principals", "add", "alice", "--role", "operator", "--json")
            context, page, refused = _login(browser, stack.url, operator["api_key"], "halts")
            status = page.get_by_test_id("notification-status")
            expect(status).to_contain_text(origin)
            expect(status).to_contain_text("Delivered0")
            # A halt engaged from the page is notified by the worker, then shown delivered.
            page.get_by_label("Scope").fill("provider:sandbox")
            page.get_by_label("Reason").fill("launch freeze")
            page.get_by_role("button", name="Engage halt…").click()
            page.get_by_role("button", name="Yes, engage halt").click()
            expect(page.get_by_test_id("halt-row")).to_have_count(1)
            deadline = time.monotonic() + 30
            while not received and time.monotonic() < deadline:
                time.sleep(0.2)
            assert len(received) == 1
            page.reload()
            expect(page.get_by_test_id("notification-status")).to_contain_text(
                "Delivered1", timeout=20_000
            )
            content = page.content()
            assert "pathsecret42" not in content
            assert secret not in content
            _shoot(page, shots, "notifications")
            context.close()
            assert refused == []
            _check_logs(stack, operator["api_key"], secret, "pathsecret42")
    finally:
        server.shutdown()
        server.server_close()
    _keep(shots)
