"""The trading benchmark runs end to end and prints the JSON line the issue asks
for. Speed is judged from the benchmark's own output, not asserted here (a
shared CI machine's timings are noise); that the limits held is asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "trading_bench.py"

pytestmark = pytest.mark.slow


def test_quick_trading_bench_prints_one_json_line(backend: str, empty_database_url: str) -> None:
    if backend != "postgresql":
        pytest.skip("one run covers both backends; it needs the PostgreSQL variant's database")
    env = {**os.environ, "AUTOPACK_BENCH_PG_URL": empty_database_url}
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--quick"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    (line,) = proc.stdout.strip().splitlines()
    result = json.loads(line)
    sqlite, postgres = result["sqlite"], result["postgres"]
    assert sqlite["check_p50_us"] > 0
    assert sqlite["floor_p50_us"] > 0
    assert sqlite["ratio_p50"] == round(sqlite["check_p50_us"] / sqlite["floor_p50_us"], 2)
    assert postgres["errors"] == []
    assert postgres["limit_violations"] == 0
    # The limits bound: exactly the position limit was claimed, by 8 strategies.
    assert postgres["orders_claimed"] == postgres["position_limit"]
    assert postgres["orders_per_s"] > 0
    assert set(result["targets_met"]) == {
        "sqlite_check_le_2x_floor",
        "postgres_no_limit_violations",
    }
    assert result["targets_met"]["postgres_no_limit_violations"] is True
