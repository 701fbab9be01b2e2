"""bench/docs_bench.py prints one JSON line, and both tools find exactly the planted links."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from docs_support import REPO


@pytest.mark.research
def test_quick_bench_prints_one_json_line() -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "docs_bench.py"), "--quick", "--files", "30"],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    for key in (
        "full_check_s",
        "full_check_warm_s",
        "links_s",
        "links_cli_warm_s",
        "lychee_s",
        "drift_cold_200_s",
    ):
        assert key in result
    assert result["files"] == 33  # 30 generated docs, 2 ledgers, the README
    assert result["findings"] == {
        "drift": 0,
        "links": result["broken_planted"],
        "summary": 0,
        "workspace": 0,
    }
    assert result["lychee_errors"] == result["broken_planted"] == 10
    assert result["lychee_links"] == result["links"] + result["external_links"]
    assert result["target_drift_cold_200_s"] == 0.6
    assert result["target_full_check_s"] == 2.0
