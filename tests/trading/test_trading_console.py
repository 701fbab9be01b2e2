"""The console's Trading view end to end: a real `autopack serve` (serving the
built console) and the Alpaca fake as processes, driven in Debian's headless
Chromium. An operator logs in, sees the account's state, limits and exposure,
approves a pending loosening by its hash, kills the account with flatten after
a confirmation, and sees HALTED with each broker step's outcome; the fake then
has no open order and ``suspend_trade`` set. Screenshots land in the test's tmp
dir (and in $CONSOLE_SCREENSHOTS when set, to refresh docs/images)."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from autopack.services.runtime import build_runtime
from autopack.services.trading.service import TradingService
from conftest import make_settings
from console_support import LOG_FAILURES, chromium, console_stack, require_browser
from fakes_support import running_fakes
from trading_support import order, paper_broker_get, ready_trading, send_order

if TYPE_CHECKING:
    from playwright.sync_api import ViewportSize

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

DESKTOP: ViewportSize = {"width": 1280, "height": 800}


def _shoot(page: Any, shots: Path, name: str) -> None:
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)


def test_an_operator_kills_an_account_from_the_console(tmp_path: Path, database_url: str) -> None:
    require_browser()
    from playwright.sync_api import expect

    shots = tmp_path / "screenshots"
    shots.mkdir()
    with running_fakes(tmp_path, "alpaca") as fakes:
        fakes.control("POST", "/alpaca/prices", {"prices": {"AAPL": "100"}})
        brokers = {
            "AUTOPACK_ALPACA_PAPER_URL": f"{fakes.url}/alpaca/paper",
            "AUTOPACK_ALPACA_LIVE_URL": f"{fakes.url}/alpaca/live",
        }
        with (
            console_stack(
                tmp_path, database_url, fakes.url, worker=False, extra_env=brokers
            ) as stack,
            chromium() as browser,
        ):
            # The trading set-up, as the command line would make it, on the same
            # workspace and database the server uses.
            rt = build_runtime(
                make_settings(
                    tmp_path,
                    database_url,
                    alpaca_paper_url=brokers["AUTOPACK_ALPACA_PAPER_URL"],
                    alpaca_live_url=brokers["AUTOPACK_ALPACA_LIVE_URL"],
                )
            )
            try:
                ready_trading(rt, limits={"max_position_qty": "20", "symbols": "AAPL"})
                send_order(rt, "buy-filled", order(qty="3", limit_price="100"))
                send_order(rt, "buy-open", order(qty="1", limit_price="90"))
                trading = TradingService(rt)
                assert trading.sync("main")["ok"]
                asked = trading.set_limits("main", {"max_position_qty": "40"}, actor="olivia")
                request = asked["request"]
            finally:
                rt.close()
            assert len(paper_broker_get(fakes.url, "/v2/orders", status="open")) == 1
            operator = stack.cli("principals", "add", "olga", "--role", "operator", "--json")

            page = browser.new_context(viewport=DESKTOP).new_page()
            page.goto(stack.url + "/")
            page.get_by_label("API key").fill(operator["api_key"])
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_test_id("who")).to_have_text("olga (operator)")
            page.get_by_role("link", name="Trading").click()
            expect(page.get_by_test_id("trading-state")).to_have_text("ACTIVE")
            expect(page.get_by_label("Exposure of main")).to_contain_text("AAPL")
            expect(page.get_by_label("Risk limits")).to_contain_text("max_position_qty")

            # The pending loosening: its hash, approved by another person.
            pending = page.get_by_role("listitem", name=f"Request {request['id']}: limits on main")
            expect(pending.get_by_test_id("request-hash")).to_have_text(request["payload_hash"])
            diff = pending.get_by_label(f"Limits of request {request['id']} against those in force")
            expect(diff).to_contain_text('"max_position_qty": "40"')
            _shoot(page, shots, "trading")
            pending.get_by_role("button", name=re.compile("Approve hash")).click()
            expect(
                page.get_by_text(f"Request {request['id']} approved and applied.")
            ).to_be_visible()
            expect(page.get_by_text("No trading change waits for approval.")).to_be_visible()
            expect(page.get_by_label("Risk limits")).to_contain_text("40")

            # The kill switch: a confirmation with a reason, then each broker step.
            page.get_by_role("button", name="Kill trading on main…").click()
            dialog = page.get_by_role("alertdialog")
            expect(dialog).to_contain_text("Kill trading on main?")
            yes = page.get_by_role("button", name="Yes, kill main")
            expect(yes).to_be_disabled()
            dialog.get_by_label("Reason").fill("runaway strategy")
            dialog.get_by_label("Also close every position (flatten)").check()
            _shoot(page, shots, "trading-kill-confirm")
            yes.click()
            steps = page.get_by_label("Kill steps of main")
            expect(steps.get_by_test_id("broker-step")).to_have_count(3, timeout=30_000)
            expect(steps).not_to_contain_text("needs_attention")
            expect(page.get_by_test_id("trading-state")).to_have_text("HALTED")
            expect(page.get_by_text(re.compile("Reason: runaway strategy"))).to_be_visible()
            expect(page.get_by_text("Every broker step succeeded.")).to_be_visible()
            # A fresh broker read: the flattened position and the cancelled order are gone.
            page.get_by_role("button", name="Read main from the broker now").click()
            expect(page.get_by_test_id("sync-report")).to_contain_text("0 positions")
            expect(page.get_by_text("No position and nothing reserved.")).to_be_visible()
            _shoot(page, shots, "trading-halted")

            assert paper_broker_get(fakes.url, "/v2/orders", status="open") == []
            assert paper_broker_get(fakes.url, "/v2/positions") == []
            configuration = paper_broker_get(fakes.url, "/v2/account/configurations")
            assert configuration["suspend_trade"] is True
            logs = stack.log_text()
            for failure in LOG_FAILURES:
                assert failure not in logs, logs[-3000:]
            assert operator["api_key"] not in logs
    target = os.environ.get("CONSOLE_SCREENSHOTS")
    if target:
        for shot in shots.iterdir():
            shutil.copyfile(shot, Path(target) / f"console-{shot.name}")
