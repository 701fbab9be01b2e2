"""The redaction benchmark runs and meets its targets on the quick corpus."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench" / "redaction_bench.py"


def test_quick_bench_prints_one_json_line_and_meets_targets() -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--quick"],
        capture_output=True,
        text=True,
        timeout=240,
        check=True,
    )
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1, proc.stdout
    result = json.loads(lines[0])
    for key in (
        "registered_recall", "pattern_recall", "false_positive_rate", "mb_per_s",
        "detect_secrets_recall", "detect_secrets_false_positive_rate",
        "detect_secrets_mb_per_s", "planted_registered", "planted_pattern", "benign_lines",
    ):  # fmt: skip
        assert key in result, key
    assert result["planted_registered"] > 0
    assert result["planted_pattern"] > 0
    assert result["benign_lines"] > 0
    assert result["registered_recall"] == 1.0
    # The corpus is seeded, so recall and false positives are exact, not noisy.
    assert result["pattern_recall"] >= result["detect_secrets_recall"]
    assert result["false_positive_rate"] <= result["detect_secrets_false_positive_rate"]
    assert result["mb_per_s"] >= result["detect_secrets_mb_per_s"]
