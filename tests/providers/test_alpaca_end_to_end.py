"""Alpaca end to end, every step through the command line as separate processes:
register the strategy from its file and set the account's risk limits (a second
person approves them), store a paper key pair, propose an order, approve it, a
real ``autopack worker`` dispatches it to the Alpaca fake, and ``actions show``
holds the broker's order id. A live-environment order is refused before sending
(paper by default)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from fakes_support import running_fakes
from trading_support import STRATEGY, STRATEGY_CODE, STRATEGY_HASH

KEY_ID = "PKENDTOENDPAPERKEY01"
SECRET = "e2eSecretKey" + "Q7x" * 10


def cli_env(workspace: Path, database_url: str, fakes_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOPACK_")}
    env.update(
        AUTOPACK_WORKSPACE=str(workspace),
        AUTOPACK_DATABASE_URL=database_url,
        AUTOPACK_ALPACA_PAPER_URL=f"{fakes_url}/alpaca/paper",
        AUTOPACK_ALPACA_LIVE_URL=f"{fakes_url}/alpaca/live",
    )
    return env


def autopack(env: dict[str, str], cwd: Path, *args: str, stdin: str = "") -> Any:
    proc = subprocess.run(
        [sys.executable, "-m", "autopack", *args],
        env=env,
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    return json.loads(proc.stdout) if "--json" in args else proc.stdout


def test_an_order_goes_through_the_worker_to_the_fake(
    workspace: Path, database_url: str, tmp_path: Path
) -> None:
    with running_fakes(tmp_path, "alpaca") as fakes:
        env = cli_env(workspace, database_url, fakes.url)
        fakes.control("POST", "/alpaca/prices", {"prices": {"AAPL": "120"}})
        code = tmp_path / "strategy.py"
        code.write_bytes(STRATEGY_CODE)
        registered = autopack(
            env,
            workspace,
            *("trading", "strategy", "register", STRATEGY, "--file", str(code)),
            *("--as", "olivia", "--json"),
        )
        strategy = {"name": STRATEGY, "sha256": registered["strategy"]["sha256"]}
        assert strategy["sha256"] == STRATEGY_HASH
        limits = autopack(
            env,
            workspace,
            *("trading", "limits", "set", "--account", "main", "--max-orders-per-day", "1000"),
            *("--as", "olivia", "--json"),
        )["request"]
        autopack(
            env,
            workspace,
            *("trading", "approve", str(limits["id"]), "--hash", limits["payload_hash"]),
            *("--as", "oscar"),
        )
        autopack(
            env,
            workspace,
            *("credentials", "add-key", "--provider", "alpaca", "--account", "main"),
            *("--key-id", KEY_ID, "--environment", "paper", "--json"),
            stdin=SECRET + "\n",
        )
        payload = tmp_path / "order.json"
        order = {
            "environment": "paper",
            "symbol": "AAPL",
            "side": "buy",
            "type": "market",
            "time_in_force": "day",
            "qty": "3",
            "strategy": strategy,
        }
        payload.write_text(json.dumps(order), encoding="utf-8")
        live = tmp_path / "live.json"
        live.write_text(json.dumps({**order, "environment": "live"}), encoding="utf-8")
        for key, path in (("e2e-order-1", payload), ("e2e-live-1", live)):
            proposed = autopack(
                env,
                workspace,
                *("actions", "propose", "--provider", "alpaca", "--action", "order.submit"),
                *("--account", "main", "--key", key, "--payload", str(path), "--json"),
            )
            record = proposed["action"]
            assert proposed["render"]["url"].endswith("/v2/orders")
            assert proposed["render"]["headers"]["APCA-API-SECRET-KEY"] == "<secret key>"
            approval_id = str(record["approval_id"])
            autopack(
                env,
                workspace,
                *("approvals", "approve", approval_id, "--hash", record["payload_hash"]),
                *("--as", "alice"),
            )
        autopack(env, workspace, "worker", "--once")

        shown = autopack(env, workspace, "actions", "show", "e2e-order-1", "--json")["action"]
        (placed,) = fakes.effects("alpaca")
        assert shown["status"] == "succeeded"
        assert shown["provider_object_id"] == placed["id"]
        assert (placed["symbol"], placed["qty"], placed["status"]) == ("AAPL", "3", "filled")
        assert placed["key_id"] == KEY_ID
        assert placed["client_order_id"].startswith("autopack-")

        refused = autopack(env, workspace, "actions", "show", "e2e-live-1", "--json")["action"]
        # Paper by default: the live gate refuses it before anything is sent.
        assert refused["status"] == "needs_attention"
        assert "live trading is off" in refused["last_error"]
        assert refused["provider_object_id"] is None
        # The secret never reached the ledger or the output.
        text = json.dumps(autopack(env, workspace, "actions", "list", "--json"))
        assert SECRET not in text
        assert fakes.stderr_problems() == []
