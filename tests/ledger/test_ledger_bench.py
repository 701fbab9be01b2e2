"""The ledger benchmark runs end to end and prints the JSON line the issue asks for.

Speed targets are judged from the benchmark's own output, not asserted here:
timings on a shared CI machine are noise. This test proves the benchmark works
(every measurement ran and is positive, the targets are evaluated) on SQLite and
on the test suite's PostgreSQL.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "ledger_bench.py"


def test_quick_ledger_bench_prints_one_json_line_with_every_measurement(
    backend: str, empty_database_url: str
) -> None:
    if backend != "postgresql":
        pytest.skip("one run covers both backends; it needs the PostgreSQL variant's database")
    # A database of its own: the benchmark migrates it and leaves its rows behind.
    env = {**os.environ, "AUTOPACK_BENCH_PG_URL": empty_database_url}
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--quick"],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
        env=env,
    )
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1, proc.stdout
    result = json.loads(lines[0])
    assert result["quick"] is True
    for backend in ("sqlite", "postgres"):
        for key in ("guarded_p50_us", "guarded_p99_us", "replay_p50_us", "floor_p50_us"):
            assert result[backend][key] > 0, (backend, key)
        assert result[backend]["guarded_p99_us"] >= result[backend]["guarded_p50_us"]
    assert result["sqlite"]["powertools_p50_us"] > 0
    assert result["pg_throughput_1w"] > 0
    assert result["pg_throughput_4w"] > 0
    assert set(result["targets_met"]) == {
        "sqlite_guarded_le_2x_floor",
        "sqlite_replay_le_100us",
        "sqlite_guarded_le_powertools",
        "postgres_guarded_le_2x_floor",
        "pg_4w_ge_1_5x_1w",
    }
    assert all(isinstance(met, bool) for met in result["targets_met"].values())
