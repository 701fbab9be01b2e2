"""Notifications across real processes: `autopack worker` delivers the outbox to a
real receiver on 127.0.0.1. Killed with SIGKILL while a delivery is in flight and
restarted, nothing is lost (the in-flight one is sent again with the same id);
stopped with SIGTERM and restarted, nothing is repeated."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from receiver_support import SECRET, Receiver, running_receiver
from sqlalchemy import select

from autopack.services.context import Runtime
from autopack.services.ledger import IntentRequest, LedgerService
from autopack.services.notifications.outbox import NOTIFICATIONS
from autopack.services.runtime import build_runtime
from conftest import make_settings

pytestmark = pytest.mark.skipif(os.name == "nt", reason="POSIX signals")
TIMEOUT_SECONDS = 2  # the delivery lease is 2 * 2 + 1 = 5 s


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as found:
        yield found


@pytest.fixture
def rt(workspace: Path, database_url: str, receiver: Receiver) -> Iterator[Runtime]:
    runtime = build_runtime(
        make_settings(
            workspace,
            database_url,
            notify_webhook_url=receiver.url,
            notify_secret=SECRET,
            notify_backoff_seconds=0,
            notify_timeout_seconds=TIMEOUT_SECONDS,
        )
    )
    yield runtime
    runtime.close()


def _propose(rt: Runtime, *keys: str) -> None:
    for key in keys:
        LedgerService(rt).propose(
            IntentRequest(provider="sandbox", action="video.upload", key=key, payload={"t": key})
        )


def _start_worker(
    workspace: Path, database_url: str, url: str, log: Path
) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOPACK_")}
    env.update(
        AUTOPACK_WORKSPACE=str(workspace),
        AUTOPACK_DATABASE_URL=database_url,
        AUTOPACK_NOTIFY_WEBHOOK_URL=url,
        AUTOPACK_NOTIFY_SECRET=SECRET,
        AUTOPACK_NOTIFY_BACKOFF_SECONDS="0",
        AUTOPACK_NOTIFY_TIMEOUT_SECONDS=str(TIMEOUT_SECONDS),
    )
    with log.open("ab") as sink:
        return subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from autopack.cli import main; main()",
                "worker",
                "--poll-seconds",
                "0.1",
            ],
            env=env,
            cwd=workspace,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )


def _rows(rt: Runtime) -> dict[str, str]:
    with rt.engine.connect() as conn:
        return {
            r.notification_id: r.status
            for r in conn.execute(select(NOTIFICATIONS.c.notification_id, NOTIFICATIONS.c.status))
        }


def _wait(condition: object, what: str, log: Path, timeout: float = 40.0) -> None:
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(
        f"timed out waiting for {what}:\n{log.read_text(errors='replace')[-3000:]}"
    )


def _stop(proc: subprocess.Popen[bytes], log: Path) -> None:
    """SIGTERM once the worker is polling (its handlers installed), expect exit 0."""
    name = f"autopack worker {socket.gethostname()[:24]}-{proc.pid}: polling"
    _wait(lambda: name in log.read_text(errors="replace"), "the worker to start", log)
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 0, log.read_text(errors="replace")


def test_sigkill_mid_delivery_loses_nothing_and_sigterm_repeats_nothing(
    rt: Runtime, receiver: Receiver, workspace: Path, database_url: str, tmp_path: Path
) -> None:
    log = tmp_path / "worker.log"
    _propose(rt, "k-1", "k-2", "k-3")
    expected = set(_rows(rt))
    assert len(expected) == 3
    receiver.hold_next = True  # the first request stays open until we let it go
    proc = _start_worker(workspace, database_url, receiver.url, log)
    try:
        _wait(receiver.held.is_set, "the first delivery to be in flight", log)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    receiver.release.set()
    in_flight = receiver.ids()
    assert len(in_flight) == 1  # killed while its answer was outstanding
    assert set(_rows(rt).values()) == {"pending"}  # nothing recorded as delivered

    proc = _start_worker(workspace, database_url, receiver.url, log)
    try:
        _wait(lambda: set(_rows(rt).values()) == {"delivered"}, "every delivery", log)
    finally:
        _stop(proc, log)
    assert receiver.distinct_ids() == expected  # nothing lost
    counts = {i: receiver.ids().count(i) for i in expected}
    # Only the one in flight at the kill was sent twice, with the same id.
    assert counts[in_flight[0]] == 2
    assert sorted(counts.values()) == [1, 1, 2]
    assert all(r.signed_by(SECRET) for r in receiver.requests)

    # Graceful: a worker stopped with SIGTERM and started again sends nothing twice.
    before = len(receiver.ids())
    _propose(rt, "k-4", "k-5")
    fresh = set(_rows(rt)) - expected
    proc = _start_worker(workspace, database_url, receiver.url, log)
    try:
        _wait(lambda: set(_rows(rt).values()) == {"delivered"}, "the new deliveries", log)
    finally:
        _stop(proc, log)
    proc = _start_worker(workspace, database_url, receiver.url, log)
    try:
        time.sleep(1.5)  # several polls of the restarted worker
    finally:
        _stop(proc, log)
    after = receiver.ids()[before:]
    assert sorted(after) == sorted(fresh)  # each new one exactly once, no repeats
    assert "Traceback" not in log.read_text(errors="replace")
