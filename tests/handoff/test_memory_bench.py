"""The run-memory benchmark runs and prints one JSON line with its figures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "memory_bench.py"


def test_small_bench_prints_one_json_line() -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--artifacts", "300"],
        capture_output=True,
        text=True,
        timeout=240,
        check=True,
    )
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1, proc.stdout
    result = json.loads(lines[0])
    assert result["artifacts"] == 300
    assert result["index_per_s"] > 0
    assert 0 < result["search_p50_ms"] <= result["search_p99_ms"]
    assert result["queries_with_hits"] == result["queries"] > 0
    assert result["rebuilt_equal"] is True
