"""The refresh-token rotation race: many callers in several processes, one refresh."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autopack.services.credentials import CredentialService
from credentials.cred_support import SECRET_KEY, FakeOAuth, connect

PROCESSES = 4
THREADS = 16  # 64 callers
ROUNDS = 100
WORKER = Path(__file__).with_name("race_worker.py")


@pytest.mark.parametrize(
    ("mode", "rounds"),
    [
        # One service per process: threads coalesce, the 4 processes race in the DB.
        pytest.param("shared", ROUNDS, id="shared"),
        # One service per thread: all 64 callers race in the database itself.
        pytest.param("separate", 12, id="separate"),
    ],
)
def test_rotation_race_one_refresh_per_round(
    service: CredentialService,
    fake_oauth: FakeOAuth,
    database_url: str,
    workspace: Path,
    mode: str,
    rounds: int,
) -> None:
    connect(service, fake_oauth, "etsy", "race")
    args = [
        sys.executable,
        str(WORKER),
        database_url,
        str(workspace),
        fake_oauth.url,
        SECRET_KEY,
        str(THREADS),
        "etsy",
        "race",
        mode,
    ]
    procs = [
        subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for _ in range(PROCESSES)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "ready"
        started = time.monotonic()
        previous: set[str] = set()
        for number in range(1, rounds + 1):
            for proc in procs:
                assert proc.stdin is not None
                proc.stdin.write(f"round {number}\n")
                proc.stdin.flush()
            tokens: set[str] = set()
            for proc in procs:
                assert proc.stdout is not None
                result = json.loads(proc.stdout.readline())
                assert result["errors"] == [], result
                assert result["ok"] == THREADS
                tokens.update(result["tokens"])
            # Every caller of the round got the one fresh token.
            assert len(tokens) == 1, (number, tokens)
            assert not tokens & previous, number
            previous = tokens
            counters = fake_oauth.counters()
            assert counters["refresh_requests"] == number, (number, counters)
        elapsed = time.monotonic() - started
    finally:
        for proc in procs:
            if proc.stdin is not None:
                proc.stdin.write("quit\n")
                proc.stdin.close()
        for proc in procs:
            proc.wait(timeout=30)
            if proc.stdout is not None:
                proc.stdout.close()
    counters = fake_oauth.counters()
    assert counters["refresh_requests"] == rounds
    assert list(counters["refresh_requests_by_family"].values()) == [rounds]
    assert counters["invalid_grant"] == 0
    assert counters["revocations"] == []
    health = service.health_one("etsy", "race")
    assert health.refresh_count == rounds
    assert health.total_failures == 0
    sys.stdout.write(
        f"rotation race ({mode}): {rounds} rounds x {PROCESSES * THREADS} callers "
        f"in {elapsed:.2f} s\n"
    )
