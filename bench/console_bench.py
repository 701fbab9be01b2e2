"""Operator console benchmark: bundle size and inbox speed. Prints one JSON line.

- ``bundle_js_gzip_bytes``: the built console's JavaScript (``dist/console/assets``,
  from ``npm run build``), gzip level 9, summed; target at most 250 KB.
- ``inbox_first_rows_ms``: with ``--pending`` (default 1,000) pending approvals
  in the database, the time from navigating to the approval inbox (already
  signed in) to its first rows being visible, in headless Chromium
  (``/usr/bin/chromium``); median of ``--runs``; target at most 1,000 ms.

The API is a real ``autopack serve`` on a temporary workspace (embedded SQLite)
on 127.0.0.1; the approvals are proposed through the library, as an agent would.
Needs the console build and Chromium: exits 2 with the command to get them.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
CONSOLE_DIR = REPO / "dist" / "console"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
BUNDLE_TARGET_BYTES = 250 * 1024
FIRST_ROWS_TARGET_MS = 1000.0


def bundle_gzip_bytes(console: Path) -> int:
    return sum(
        len(gzip.compress(path.read_bytes(), compresslevel=9))
        for path in sorted((console / "assets").glob("*.js"))
    )


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def seed(workspace: Path, pending: int) -> str:
    """``pending`` pending approvals proposed by an agent; returns an operator's key."""
    from autopack.db.schema import upgrade
    from autopack.domain.principals import cli_actor
    from autopack.services.ledger import IntentRequest, LedgerService
    from autopack.services.principals import PrincipalService
    from autopack.services.runtime import build_runtime
    from autopack.settings import Settings

    runtime = build_runtime(Settings(_env_file=None, workspace=workspace))
    try:
        upgrade(runtime.engine)
        principals = PrincipalService(runtime)
        operator: str = principals.add("bench-operator", role="operator", actor=cli_actor("bench"))[
            "api_key"
        ]
        principals.add("bench-agent", role="agent", actor=cli_actor("bench"))
        ledger = LedgerService(runtime)
        for n in range(pending):
            ledger.propose(
                IntentRequest(
                    provider="sandbox",
                    action="video.upload",
                    key=f"bench-{n:05d}",
                    payload={"title": f"Video {n}", "privacy": "public"},
                    account="main",
                    project="bench",
                    requested_by="bench-agent",
                )
            )
        return operator
    finally:
        runtime.close()


def measure(url: str, key: str, runs: int) -> tuple[list[float], int]:
    from playwright.sync_api import sync_playwright

    timings: list[float] = []
    rows = 0
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(url + "/")
            page.get_by_label("API key").fill(key)
            page.get_by_role("button", name="Sign in").click()
            page.get_by_test_id("who").wait_for()
            for _ in range(runs):
                page.goto("about:blank")
                started = time.perf_counter()
                page.goto(url + "/#/inbox")
                page.get_by_test_id("approval-row").first.wait_for(state="visible")
                timings.append((time.perf_counter() - started) * 1000)
                rows = page.get_by_test_id("approval-row").count()
        finally:
            browser.close()
    return timings, rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--pending", type=int, default=1000, help="pending approvals (1000)")
    parser.add_argument("--runs", type=int, default=5, help="inbox loads to time (5)")
    args = parser.parse_args()
    if not (CONSOLE_DIR / "index.html").exists():
        print("no console build: run `npm ci && npm run build`", file=sys.stderr)
        return 2
    if not CHROMIUM.exists():
        print(f"no {CHROMIUM}: run `apt-get install chromium`", file=sys.stderr)
        return 2
    bundle = bundle_gzip_bytes(CONSOLE_DIR)
    with tempfile.TemporaryDirectory(prefix="console-bench-") as tmp:
        workspace = Path(tmp)
        key = seed(workspace, args.pending)
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOPACK_")}
        env.update(
            AUTOPACK_WORKSPACE=str(workspace),
            AUTOPACK_PORT=str(port),
            AUTOPACK_CONSOLE_DIR=str(CONSOLE_DIR),
            AUTOPACK_API_KEY="bench-bootstrap-" + "b" * 40,
        )
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [str(Path(sys.executable).parent / "autopack"), "serve"],
            env=env,
            cwd=workspace,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            timings, rows = measure(url, key, args.runs)
        finally:
            server.terminate()
            server.wait(timeout=30)
    first_rows = statistics.median(timings)
    print(
        json.dumps(
            {
                "bench": "console",
                "bundle_js_gzip_bytes": bundle,
                "bundle_target_bytes": BUNDLE_TARGET_BYTES,
                "pending_approvals": args.pending,
                "rows_shown": rows,
                "inbox_first_rows_ms": round(first_rows, 1),
                "inbox_first_rows_runs_ms": [round(t, 1) for t in timings],
                "first_rows_target_ms": FIRST_ROWS_TARGET_MS,
                "ok": bundle <= BUNDLE_TARGET_BYTES and first_rows <= FIRST_ROWS_TARGET_MS,
            },
            sort_keys=True,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
