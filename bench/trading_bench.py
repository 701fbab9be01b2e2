"""Trading benchmark: prints one JSON line.

SQLite (a file with Autopack's settings):

- check_p50_us / check_p99_us: the pre-trade check plus the reservation, as the
  claim runs it for one approved order: one write transaction that locks the
  account's row, reads the trading facts (state, strategy, limits, position and
  open reservations, order counts, broker read, promotion), runs the trading
  gates and inserts the reservation.
- floor_p50_us: the bare reservation transaction: the same lock and the same
  insert, nothing checked. Check and floor alternate, so both see the same
  disk and CPU weather. After each, untimed, the order is settled as a fill
  would settle it, so the open reservations stay as few as a broker's open
  orders while the day's order count grows with the run.

PostgreSQL (AUTOPACK_BENCH_PG_URL, else a throw-away cluster): 8 threads, one
strategy each, claim orders on one account through the real claim
(``Executor.claim``: the whole gate pipeline and the reservation under the
account's row lock) until nothing is claimable. Each strategy may send 40
orders a day and the account may hold 200 shares, while each strategy has 60
one-share orders waiting: the limits bind. ``orders_per_s`` counts claims;
``limit_violations`` counts strategies above their daily count plus shares
reserved above the position limit (must be 0).

Targets (``targets_met``): check p50 <= 2x the floor; zero limit violations.

Exit status: 0 after printing the line; with ``--check``, 1 when a target is
not met.

Usage: python bench/trading_bench.py [--quick] [--check]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, update

from autopack.db.schema import upgrade
from autopack.domain.gates import (
    ActionFacts,
    CredentialFacts,
    CredentialRequirement,
    GateFacts,
    Verdict,
    run_pipeline,
)
from autopack.domain.gates.pipeline import DISPATCH_GATES
from autopack.services.approvals import ApprovalService
from autopack.services.context import Runtime
from autopack.services.credentials import CredentialService
from autopack.services.executor import Executor
from autopack.services.ledger import ACTIONS, IntentRequest, LedgerService, make_store
from autopack.services.runtime import build_runtime
from autopack.services.trading.facts import TradingFactsReader
from autopack.services.trading.records import RESERVATIONS
from autopack.services.trading.reservations import reserve
from autopack.services.trading.service import TradingService
from autopack.settings import Settings

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from throwaway_pg import throwaway_postgres

TRADING_GATES = tuple(
    g for g in DISPATCH_GATES if type(g).__module__.startswith("autopack.domain.gates.trading")
)
STRATEGY_HASH = "a" * 64
STRATEGIES = 8
PER_STRATEGY = 60
DAILY = 40
POSITION = 200


def _runtime(workspace: Path, url: str) -> Runtime:
    rt = build_runtime(Settings(_env_file=None, workspace=workspace, database_url=url))
    upgrade(rt.engine)
    return rt


def _order(strategy: str, n: int) -> dict[str, Any]:
    return {
        "strategy": {"name": strategy, "sha256": STRATEGY_HASH},
        "symbol": "AAPL",
        "side": "buy",
        "type": "limit",
        "time_in_force": "day",
        "qty": "1",
        "limit_price": str(100 + n % 7),
    }


def _ready(rt: Runtime, limits: dict[str, dict[str, Any]]) -> None:
    """Register the strategies and set the limits (scope "" is the account's)."""
    trading = TradingService(rt)
    for scope in limits:
        if scope:
            trading.register_strategy(scope, STRATEGY_HASH, actor="bench-ops")
    for scope, values in limits.items():
        asked = trading.set_limits("main", values, actor="bench-ops", strategy=scope or None)
        if not asked["applied"]:
            request = asked["request"]
            trading.approve(request["id"], request["payload_hash"], actor="bench-approver")


def _propose(rt: Runtime, orders: list[tuple[str, str]]) -> None:
    """Propose and approve one-share orders: (key, strategy) each."""
    ledger = LedgerService(rt)
    approvals = ApprovalService(rt)
    for n, (key, strategy) in enumerate(orders):
        record = ledger.propose(
            IntentRequest(
                provider="alpaca",
                action="order.submit",
                account="main",
                key=key,
                payload=_order(strategy, n),
            )
        ).record
        assert record.approval_id is not None
        approvals.approve(record.approval_id, hash_=record.payload_hash, approver="bench-approver")


def _us(samples: list[int]) -> tuple[float, float]:
    ordered = sorted(samples)
    return (
        round(statistics.median(ordered) / 1000, 1),
        round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] / 1000, 1),
    )


def measure_sqlite(root: Path, n: int) -> dict[str, Any]:
    rt = _runtime(root, f"sqlite:///{(root / 'bench.db').as_posix()}")
    try:
        _ready(
            rt,
            {
                "": {"max_position_qty": "1000000", "max_order_notional": "1000"},
                "bench": {"max_orders_per_minute": 1_000_000, "max_orders_per_day": 1_000_000},
            },
        )
        keys = [f"order-{i:05d}" for i in range(2 * n + 40)]
        _propose(rt, [(key, "bench") for key in keys])
        with rt.engine.connect() as conn:
            rows = {r["idempotency_key"]: dict(r) for r in conn.execute(select(ACTIONS)).mappings()}
        store = make_store(rt)
        reader = TradingFactsReader(rt)

        def check(key: str) -> None:
            row = rows[key]
            with store.tx() as conn:
                now = rt.clock()
                facts = reader.facts(conn, row, now, lock=True)
                decision = run_pipeline(
                    TRADING_GATES,
                    GateFacts(
                        now=now,
                        action=ActionFacts(
                            "alpaca", "order.submit", "main", "trade", row["payload_hash"], 0
                        ),
                        approval=None,
                        credential=CredentialFacts(CredentialRequirement.NONE),
                        trading=facts,
                    ),
                )
                assert decision.verdict is Verdict.ALLOW, decision.reason
                reserve(conn, row, facts, now)

        def floor(key: str) -> None:
            with store.tx() as conn:
                reader.lock_account(conn, "main")
                conn.execute(
                    insert(RESERVATIONS).values(
                        action_key=key,
                        account="main",
                        strategy="bench",
                        symbol="AAPL",
                        client_order_id=None,
                        qty_nanos=10**9,
                        notional_cents=10_000,
                        open_qty_nanos=10**9,
                        open_notional_cents=10_000,
                        filled_qty_nanos=0,
                        status="open",
                        created_at=rt.clock(),
                    )
                )

        def settle_now(key: str) -> None:
            """The broker filled it (untimed): open reservations stay as few as
            the orders a broker holds open, not every order of the run."""
            with store.tx() as conn:
                conn.execute(
                    update(RESERVATIONS)
                    .where(RESERVATIONS.c.action_key == key)
                    .values(status="settled", open_qty_nanos=0, open_notional_cents=0)
                )

        checked: list[int] = []
        floored: list[int] = []
        for i in range(n + 20):
            for call, key, samples in (
                (check, keys[2 * i], checked),
                (floor, keys[2 * i + 1], floored),
            ):
                start = time.perf_counter_ns()
                call(key)
                if i >= 20:  # warm-up: pools, caches, statement compilation
                    samples.append(time.perf_counter_ns() - start)
                settle_now(key)
        check_p50, check_p99 = _us(checked)
        floor_p50, floor_p99 = _us(floored)
        return {
            "check_p50_us": check_p50,
            "check_p99_us": check_p99,
            "floor_p50_us": floor_p50,
            "floor_p99_us": floor_p99,
            "ratio_p50": round(check_p50 / floor_p50, 2),
            "samples": n,
        }
    finally:
        rt.close()


def measure_postgres(root: Path, url: str, per_strategy: int) -> dict[str, Any]:
    rt = _runtime(root, url)
    daily = per_strategy * 2 // 3
    position = STRATEGIES * daily * 5 // 8  # below the sum of the daily counts: both bind
    strategies = [f"strategy-{s}" for s in range(STRATEGIES)]
    try:
        _ready(
            rt,
            {
                "": {"max_position_qty": str(position)},
                **{name: {"max_orders_per_day": daily} for name in strategies},
            },
        )
        with CredentialService(rt) as credentials:  # dispatch needs one; the claim checks it
            credentials.add_api_key(
                "alpaca",
                "main",
                key_id="PKTRADINGBENCHKEY001",
                secret="b" * 40,
                environment="paper",
            )
        _propose(
            rt,
            [(f"{name}-{n:03d}", name) for n in range(per_strategy) for name in strategies],
        )
        claimed: dict[str, int] = dict.fromkeys(strategies, 0)
        errors: list[str] = []
        lock = threading.Lock()

        def drain(name: str) -> None:
            executor = Executor(rt, worker=name)
            try:
                while True:
                    claim = executor.claim()
                    if claim is None:
                        return
                    with lock:
                        claimed[claim.row["payload"].split('"name":"')[1].split('"')[0]] += 1
            except Exception as exc:  # noqa: BLE001 - reported in the JSON line
                errors.append(f"{name}: {type(exc).__name__}: {exc}")

        threads = [threading.Thread(target=drain, args=(name,)) for name in strategies]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - start
        with rt.engine.connect() as conn:
            reserved = conn.execute(
                select(func.count()).where(RESERVATIONS.c.account == "main")
            ).scalar_one()
        total = sum(claimed.values())
        violations = sum(1 for count in claimed.values() if count > daily)
        violations += max(0, int(reserved) - position)
        return {
            "strategies": STRATEGIES,
            "orders_waiting": per_strategy * STRATEGIES,
            "orders_claimed": total,
            "daily_limit": daily,
            "position_limit": position,
            "orders_per_s": round(total / elapsed, 1),
            "limit_violations": violations,
            "claimed_equals_position_limit": total == position,
            "errors": errors,
        }
    finally:
        rt.close()


@contextlib.contextmanager
def _pg_url() -> Iterator[str | None]:
    given = os.environ.get("AUTOPACK_BENCH_PG_URL")
    if given:
        yield given
        return
    with throwaway_postgres(durable=True) as url:
        yield url


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="Few samples (a smoke run).")
    parser.add_argument("--check", action="store_true", help="Exit 1 when a target is missed.")
    args = parser.parse_args()
    n = 150 if args.quick else 1500
    per_strategy = 15 if args.quick else PER_STRATEGY
    with tempfile.TemporaryDirectory(prefix="autopack-trading-bench-") as tmp:
        root = Path(tmp)
        (root / "sqlite").mkdir()
        sqlite = measure_sqlite(root / "sqlite", n)
        (root / "pg-ws").mkdir()
        with _pg_url() as url:
            if url is None:
                raise SystemExit("no PostgreSQL: set AUTOPACK_BENCH_PG_URL")
            postgres = measure_postgres(root / "pg-ws", url, per_strategy)
    targets = {
        "sqlite_check_le_2x_floor": sqlite["ratio_p50"] <= 2.0,
        "postgres_no_limit_violations": postgres["limit_violations"] == 0
        and not postgres["errors"],
    }
    print(
        json.dumps(
            {
                "bench": "trading",
                "quick": args.quick,
                "sqlite": sqlite,
                "postgres": postgres,
                "targets_met": targets,
            },
            sort_keys=True,
        )
    )
    return 1 if args.check and not all(targets.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
