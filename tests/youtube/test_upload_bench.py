"""The upload benchmark runs end to end (``--quick``) and prints the JSON line the
issue asks for. Speed ratios are judged from its own output, not asserted here
(timings on a shared machine are noise); memory and bytes are asserted: the
upload streams (RSS growth <= 64 MiB) and the fake's video holds the file."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "upload_bench.py"


def _bench_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("upload_bench", BENCH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_quick_upload_bench_prints_one_json_line() -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--quick"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert result["size_bytes"] == 64 * 1024 * 1024
    assert result["quick"] is True
    for figure in (
        "adapter_seconds",
        "plain_put_seconds",
        "throughput_ratio",
        "media_sha256_mib_s",
        "hashlib_mib_s",
        "sha256_ratio",
    ):
        assert result[figure] > 0, figure
    assert result["bytes_match"] is True
    assert result["videos_per_upload"] == 1
    assert result["checkpoints"] == 64 * 1024 * 1024 // result["chunk_bytes"]
    assert 0 <= result["rss_growth_mib"] <= 64
    assert set(result["targets_met"]) == {
        "rss_growth_le_64mib",
        "throughput_ge_0_7x_plain_put",
        "sha256_ge_0_9x_hashlib",
        "bytes_match",
    }


def _result(**changes: Any) -> dict[str, Any]:
    base = {
        "rss_growth_mib": 10.0,
        "throughput_ratio": 0.8,
        "sha256_ratio": 1.0,
        "bytes_match": True,
    }
    return {**base, **changes}


def test_the_target_rules_are_the_issue_s() -> None:
    bench = _bench_module()
    assert all(bench.evaluate_targets(_result()).values())
    assert not bench.evaluate_targets(_result(rss_growth_mib=64.1))["rss_growth_le_64mib"]
    assert bench.evaluate_targets(_result(rss_growth_mib=64.0))["rss_growth_le_64mib"]
    ratio = bench.evaluate_targets(_result(throughput_ratio=0.69))
    assert not ratio["throughput_ge_0_7x_plain_put"]
    assert not bench.evaluate_targets(_result(sha256_ratio=0.89))["sha256_ge_0_9x_hashlib"]
    assert not bench.evaluate_targets(_result(bytes_match=False))["bytes_match"]


def test_check_exits_nonzero_when_a_target_is_missed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bench = _bench_module()
    monkeypatch.setattr(bench, "run", lambda size, rounds: _result(throughput_ratio=0.5))
    assert bench.main(["--quick", "--check"]) == 1
    line = json.loads(capsys.readouterr().out)
    assert line["targets_met"]["throughput_ge_0_7x_plain_put"] is False
    assert bench.main(["--quick"]) == 0
    monkeypatch.setattr(bench, "run", lambda size, rounds: _result())
    assert bench.main(["--quick", "--check"]) == 0
