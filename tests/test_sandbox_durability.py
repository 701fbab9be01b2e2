"""The sandbox's record survives SIGKILL, and concurrent creates never double an effect."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from autopack.domain.providers import (
    DispatchResult,
    InMemoryProgress,
    Intent,
    LookupStatus,
    Outcome,
)
from autopack.providers.sandbox.adapter import provider_idempotency_key
from autopack.sandbox.server import CRASH_EXIT_CODE
from sandbox_support import running_sandbox


def intent(key: str = "key-1", title: str = "durable") -> Intent:
    return Intent("sandbox", "video.upload", "acct", key, {"title": title})


@pytest.mark.parametrize("mode", ["idempotent", "lookup_only"])
def test_lost_response_effect_survives_sigkill_and_is_found(tmp_path: Path, mode: str) -> None:
    with running_sandbox(tmp_path, mode=mode) as sbx:
        port = sbx.port
        sbx.set_faults({"kind": "lost_response"})
        it = intent()
        with sbx.adapter() as a:
            assert a.dispatch(it, a.render(it), InMemoryProgress()).outcome is Outcome.MAYBE_EFFECT
        before = sbx.effects()
        sbx.kill()
        assert sbx.effects_on_disk() == before  # on disk while the server is dead
        sbx.restart()
        assert sbx.port == port  # same URL: a re-rendered request keeps its hash
        assert sbx.health()["mode"] == mode
        with sbx.adapter() as a:
            found = a.lookup(it, {})
            assert found.status is LookupStatus.FOUND
            assert found.provider_object_id == before[0]["id"]
            if mode == "idempotent":
                again = a.dispatch(it, a.render(it), InMemoryProgress())
                assert again.outcome is Outcome.SUCCEEDED
                assert again.provider_object_id == before[0]["id"]
        assert sbx.effects() == before


def test_crash_after_commit_keeps_the_effect(tmp_path: Path) -> None:
    with running_sandbox(tmp_path, mode="lookup_only") as sbx:
        sbx.set_faults({"kind": "crash_after_commit"})
        it = intent()
        with sbx.adapter() as a:
            assert a.dispatch(it, a.render(it), InMemoryProgress()).outcome is Outcome.MAYBE_EFFECT
        assert sbx.wait_exit() == CRASH_EXIT_CODE
        assert len(sbx.effects_on_disk()) == 1
        sbx.restart()
        with sbx.adapter() as a:
            assert a.lookup(it, {}).status is LookupStatus.FOUND


def test_sigkill_before_commit_leaves_no_effect(tmp_path: Path) -> None:
    """A maybe-effect can be no effect at all: lookup tells the two apart."""
    with running_sandbox(tmp_path, mode="lookup_only") as sbx:
        sbx.set_faults({"kind": "delay", "seconds": 30})
        it = intent()
        results: list[DispatchResult] = []
        with sbx.adapter(timeout=20.0) as a:
            sender = threading.Thread(
                target=lambda: results.append(a.dispatch(it, a.render(it), InMemoryProgress()))
            )
            sender.start()
            sbx.wait_in_flight(1)
            sbx.kill()
            sender.join(20)
        assert [r.outcome for r in results] == [Outcome.MAYBE_EFFECT]
        assert sbx.effects_on_disk() == []
        sbx.restart()
        with sbx.adapter() as a:
            assert a.lookup(it, {}).status is LookupStatus.NOT_FOUND


def test_store_survives_many_kills_without_losing_acknowledged_effects(tmp_path: Path) -> None:
    with running_sandbox(tmp_path, mode="idempotent") as sbx:
        acknowledged: list[str] = []
        for round_ in range(5):
            with sbx.adapter() as a:
                for n in range(4):
                    it = intent(f"r{round_}-{n}")
                    result = a.dispatch(it, a.render(it), InMemoryProgress())
                    assert result.outcome is Outcome.SUCCEEDED
                    assert result.provider_object_id is not None
                    acknowledged.append(result.provider_object_id)
            sbx.kill()
            sbx.restart()
        assert [e["id"] for e in sbx.effects()] == acknowledged


# --- concurrency -------------------------------------------------------------------------

# A worker process: reads "<key>\n" lines, dispatches that intent, prints the result.
# All workers get the same line at the same moment, so their requests race.
_WORKER = """
import json, sys
from autopack.domain.providers import InMemoryProgress, Intent
from autopack.providers.sandbox.adapter import SandboxAdapter
with SandboxAdapter(sys.argv[1], timeout=30.0) as adapter:
    print("ready", flush=True)
    for line in sys.stdin:
        it = Intent("sandbox", "video.upload", "acct", line.strip(), {"title": "race"})
        result = adapter.dispatch(it, adapter.render(it), InMemoryProgress())
        print(json.dumps([result.outcome.value, result.provider_object_id]), flush=True)
"""


class WorkerPool:
    """N long-lived worker processes that dispatch the same key at once, per trial."""

    def __init__(self, url: str, size: int) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.procs = [
            subprocess.Popen(
                [sys.executable, "-c", _WORKER, url],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                env=env,
            )
            for _ in range(size)
        ]
        for proc in self.procs:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "ready"

    def trial(self, key: str) -> list[tuple[str, str | None]]:
        for proc in self.procs:
            assert proc.stdin is not None
            proc.stdin.write(key + "\n")
        for proc in self.procs:
            assert proc.stdin is not None
            proc.stdin.flush()
        results: list[tuple[str, str | None]] = []
        for proc in self.procs:
            assert proc.stdout is not None
            outcome, object_id = json.loads(proc.stdout.readline())
            results.append((outcome, object_id))
        return results

    def close(self) -> None:
        for proc in self.procs:
            assert proc.stdin is not None
            proc.stdin.close()
        for proc in self.procs:
            assert proc.wait(30) == 0
            assert proc.stdout is not None
            proc.stdout.close()


TRIALS = 16


def _pkey(key: str) -> str:
    return provider_idempotency_key(intent(key))


def test_same_key_from_8_processes_gives_exactly_one_effect(tmp_path: Path) -> None:
    with running_sandbox(tmp_path, mode="idempotent") as sbx:
        pool = WorkerPool(sbx.url, 8)
        try:
            for trial in range(TRIALS):
                key = f"race-{trial}"
                overlap = trial % 2 == 1
                if overlap:  # all 8 sleep in the server, then race for the commit together
                    sbx.set_faults(
                        {"kind": "delay", "seconds": 0.3, "times": 8, "match": _pkey(key)}
                    )
                started = time.monotonic()
                results = pool.trial(key)
                if overlap:
                    assert time.monotonic() - started < 8 * 0.3 * 0.6  # they did overlap
                    assert sbx.pending_faults() == []
                ids = {object_id for _, object_id in results}
                assert {outcome for outcome, _ in results} == {"succeeded"}
                assert len(ids) == 1
                (effect,) = sbx.effects(client_ref=_pkey(key))
                assert ids == {effect["id"]}
        finally:
            pool.close()
        assert len(sbx.effects()) == TRIALS
        replays = [r for r in sbx.requests() if r["result"] == "replayed"]
        assert len(replays) == TRIALS * 7


def test_same_key_from_8_processes_without_idempotency_gives_8_effects(tmp_path: Path) -> None:
    """The control for the test above: the race is real, so only the key prevents doubles."""
    with running_sandbox(tmp_path, mode="lookup_only") as sbx:
        pool = WorkerPool(sbx.url, 8)
        try:
            results = pool.trial("race")
        finally:
            pool.close()
        assert len({object_id for _, object_id in results}) == 8
        assert len(sbx.effects()) == 8


def test_threads_same_key_and_distinct_keys(tmp_path: Path) -> None:
    with running_sandbox(tmp_path, mode="idempotent") as sbx, sbx.adapter() as a:

        def send(key: str) -> Any:
            it = intent(key)
            return a.dispatch(it, a.render(it), InMemoryProgress()).provider_object_id

        with ThreadPoolExecutor(max_workers=16) as pool:
            same = list(pool.map(send, ["shared"] * 32))
            distinct = list(pool.map(send, [f"k{n}" for n in range(32)]))
        assert len(set(same)) == 1
        assert len(set(distinct)) == 32
        assert len(sbx.effects()) == 33


# --- killing the client (the recipes the crash matrix uses) ------------------------------


def _client(url: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", _WORKER, url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    assert proc.stdin is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


def _kill(proc: subprocess.Popen[str]) -> None:
    proc.kill()
    proc.wait()
    for stream in (proc.stdin, proc.stdout):
        if stream is not None:
            stream.close()


@pytest.mark.parametrize("after_commit", [False, True], ids=["before-commit", "after-commit"])
def test_client_killed_mid_request_still_leaves_exactly_one_effect(
    tmp_path: Path, after_commit: bool
) -> None:
    """SIGKILL the sender while the sandbox holds its request: the effect still lands
    (before-commit: only once the delay ends, so wait_idle() before trusting a lookup)."""
    with running_sandbox(tmp_path, mode="lookup_only") as sbx:
        sbx.set_faults({"kind": "delay", "seconds": 0.5, "after_commit": after_commit})
        client = _client(sbx.url)
        try:
            assert client.stdin is not None
            client.stdin.write("victim\n")
            client.stdin.flush()
            if after_commit:
                sbx.wait_for_effects(1)  # committed, response not yet sent
            else:
                sbx.wait_in_flight(1)
        finally:
            _kill(client)
        it = intent("victim", title="race")
        with sbx.adapter() as a:
            if not after_commit:
                assert a.lookup(it, {}).status is LookupStatus.NOT_FOUND  # not yet...
            sbx.wait_idle()
            found = a.lookup(it, {})  # ...but it lands: NOT_FOUND above was no proof
        assert found.status is LookupStatus.FOUND
        assert [e["id"] for e in sbx.effects()] == [found.provider_object_id]
