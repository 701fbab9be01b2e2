"""Crash matrix for Alpaca ``order.submit``: a real ``autopack worker`` process
SIGKILLed at each point, against the Alpaca fake (its own process).

For every point: propose + approve one order, run ``autopack worker --once`` with
AUTOPACK_CRASHPOINT set, then "restart": a new executor whose clock is past the
dead worker's lease (and later past the settle window) reconciles and runs what
is claimable. The fake's store is the ground truth. Afterwards:

- zero duplicate orders (at most one order per client_order_id, ever);
- zero lost confirmations (an order the ledger confirmed stays succeeded with the
  same id, and every order that exists is confirmed with its id);
- nothing left in unknown or dispatching.

Besides the executor's points, the adapter's own gap: the POST committed at the
broker, its answer lost AND the immediate lookup failing (the worker records
``unknown``), then the worker is killed before anything else.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from autopack.domain.providers import Intent
from autopack.providers.alpaca.wire import client_order_id
from autopack.services.approvals import ApprovalService
from autopack.services.context import utc_now
from autopack.services.credentials import CredentialService
from autopack.services.executor import CRASHPOINT_DELAY_ENV, CRASHPOINT_ENV, Executor
from autopack.services.ledger import IntentRequest, LedgerService
from autopack.services.providers import ProviderRegistry
from autopack.services.runtime import build_runtime
from conftest import make_settings
from fakes_support import FakesProcess, running_fakes
from trading_support import REF, ready_trading

pytestmark = pytest.mark.slow

POST = {"provider": "alpaca", "method": "POST", "path_contains": "/v2/orders"}
LOOKUP = {"provider": "alpaca", "method": "GET", "path_contains": "by_client_order_id"}
# point -> (crashpoint, faults queued for the dead worker's attempt)
POINTS: dict[str, tuple[str, list[dict[str, Any]]]] = {
    "before_claim": ("before_claim", []),
    "after_claim_commit": ("after_claim_commit", []),
    "during_dispatch": ("during_dispatch", [{**POST, "kind": "delay", "seconds": 1.0}]),
    "provider_committed_no_response": (
        "after_response",
        [{**POST, "kind": "lost_response"}],
    ),
    "after_response_before_confirm": ("after_response", []),
    "after_confirm": ("after_confirm", []),
    "answer_lost_and_lookup_down": (
        "after_confirm",
        [
            {**POST, "kind": "lost_response"},
            {**LOOKUP, "kind": "status", "status": 503, "body": {"code": 50310000}},
        ],
    ),
    "duplicate_answer_then_crash": (
        "after_response",
        [{**POST, "kind": "duplicate_client_order_id"}],
    ),
}
KEY_ID = "PKCRASHMATRIXKEY0001"
ORDER = {
    "symbol": "AAPL",
    "side": "buy",
    "type": "market",
    "time_in_force": "day",
    "qty": "1",
    "strategy": REF,
}


def _worker(workspace: Path, database_url: str, fakes: FakesProcess, point: str) -> None:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("AUTOPACK_") or k.endswith("PG_URL")
    }
    env.update(
        AUTOPACK_WORKSPACE=str(workspace),
        AUTOPACK_DATABASE_URL=database_url,
        AUTOPACK_ALPACA_PAPER_URL=f"{fakes.url}/alpaca/paper",
        AUTOPACK_ALPACA_LIVE_URL=f"{fakes.url}/alpaca/live",
        **{CRASHPOINT_ENV: point, CRASHPOINT_DELAY_ENV: "300"},
    )
    proc = subprocess.run(
        [sys.executable, "-m", "autopack", "worker", "--once", "--lease-seconds", "30"],
        env=env,
        cwd=workspace,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == -signal.SIGKILL, (point, proc.returncode, proc.stdout, proc.stderr)


def test_alpaca_crash_matrix(workspace: Path, database_url: str, tmp_path: Path) -> None:
    with running_fakes(tmp_path, "alpaca") as fakes:
        fakes.control("POST", "/alpaca/prices", {"prices": {"AAPL": "10"}})
        settings = make_settings(
            workspace,
            database_url,
            alpaca_paper_url=f"{fakes.url}/alpaca/paper",
            alpaca_live_url=f"{fakes.url}/alpaca/live",
        )
        rt = build_runtime(settings)
        ready_trading(rt, key=None)
        with CredentialService(rt) as credentials:
            credentials.add_api_key(
                "alpaca", "main", key_id=KEY_ID, secret="c" * 20 + "D" * 20, environment="paper"
            )
        registry = ProviderRegistry.for_runtime(rt)
        ledger = LedgerService(rt, registry)
        approvals = ApprovalService(rt, registry)
        skew = timedelta(0)
        rt.clock = lambda: utc_now() + skew
        try:
            for name, (point, faults) in POINTS.items():
                key = f"crash-{name}".replace("_", "-")
                rec = ledger.propose(
                    IntentRequest(
                        provider="alpaca",
                        action="order.submit",
                        account="main",
                        key=key,
                        payload=ORDER,
                    )
                ).record
                assert rec.approval_id is not None
                approvals.approve(rec.approval_id, hash_=rec.payload_hash, approver="alice")
                coid = client_order_id(Intent("alpaca", "order.submit", "main", key, ORDER))
                if faults:
                    fakes.set_faults(*faults)
                _worker(workspace, database_url, fakes, point)
                before = ledger.get(key)
                if point == "during_dispatch":
                    fakes.wait_idle()  # the dead worker's request is still being answered
                fakes.clear_faults()

                # Restart: a new worker after the dead one's lease ran out.
                skew += timedelta(minutes=5)
                executor = Executor(rt, registry, worker="restarted")
                executor.reconcile()
                skew += timedelta(seconds=executor.settle_seconds_for("alpaca") + 1)
                executor.reconcile()
                executor.run_once()
                executor.reconcile()
                executor.run_once()

                after = ledger.get(key)
                placed = [o for o in fakes.effects("alpaca") if o["client_order_id"] == coid]
                where = f"{name}: {before.status} -> {after.status}"
                assert len(placed) == 1, where  # exactly one order: none lost, none twice
                assert after.status == "succeeded", where
                assert after.provider_object_id == placed[0]["id"], where
                if before.status == "succeeded":  # confirmed before the crash: never lost
                    assert after.provider_object_id == before.provider_object_id, where
            assert len(fakes.effects("alpaca")) == len(POINTS)
            ledger.verify_chain()
            # A worker killed mid-request leaves the fakes host nobody to answer:
            # it closes quietly (no traceback on stderr).
            assert fakes.stderr_problems() == [], fakes.stderr_text()
        finally:
            registry.close()
            rt.close()
