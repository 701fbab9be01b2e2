"""YouTube through the whole ledger: propose -> approve -> a real `autopack worker`
process dispatches to the YouTube fake -> `succeeded` with the video id in
`actions show`; a worker SIGKILLed at each crash point (mid-stream too) is
resumed by reconcile + worker from the acknowledged offset, ending with ONE
video whose bytes equal the file; an expired session is parked for a person."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from autopack.services.approvals import ApprovalService
from autopack.services.context import Runtime, utc_now
from autopack.services.credentials import CredentialService
from autopack.services.executor import CRASHPOINT_DELAY_ENV, CRASHPOINT_ENV, Executor
from autopack.services.ledger import IntentRequest, LedgerService
from autopack.services.packet_refs import packet_service
from autopack.services.providers import ProviderRegistry
from autopack.services.runtime import build_runtime
from autopack.settings import Settings
from credentials.cred_support import API_KEY, SECRET_KEY, FakeOAuth, connect, fake_oauth_process
from fakes_support import FakesProcess
from policy_support import clear_policy
from youtube.yt_support import QUANTUM, packet_spec, write_media

ACCOUNT = "chan1"


@pytest.fixture(scope="module")
def fake_oauth() -> Iterator[FakeOAuth]:
    with fake_oauth_process() as server:
        yield server


@dataclass
class World:
    settings: Settings
    rt: Runtime
    registry: ProviderRegistry
    ledger: LedgerService
    approvals: ApprovalService
    fake: FakesProcess
    workspace: Path
    database_url: str

    def propose(self, key: str, size: int) -> dict[str, Any]:
        """Build the publish packet of a fresh file and propose + approve it."""
        media = write_media(self.workspace / f"{key}.mp4", size, seed=len(key))
        spec = self.workspace / f"{key}.spec.json"
        spec.write_text(json.dumps(packet_spec(title=f"upload {key}")), encoding="utf-8")
        packet = packet_service(self.rt).build(spec, [self.workspace / f"{key}.mp4"])
        rec = self.ledger.propose(
            IntentRequest(
                provider="youtube",
                action="video.upload",
                account=ACCOUNT,
                key=key,
                payload=packet.document,
            )
        ).record
        assert rec.approval_id is not None
        self.approvals.approve(rec.approval_id, hash_=rec.payload_hash, approver="alice")
        return media

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("AUTOPACK_") or k.endswith("PG_URL")
        }
        env.update(
            AUTOPACK_WORKSPACE=str(self.workspace),
            AUTOPACK_DATABASE_URL=self.database_url,
            AUTOPACK_SECRET_KEY=SECRET_KEY,
            AUTOPACK_OAUTH_SERVER_URL=str(self.settings.oauth_server_url),
            AUTOPACK_YOUTUBE_API_URL=self.fake.url,
            AUTOPACK_YOUTUBE_CHUNK_BYTES=str(self.settings.youtube_chunk_bytes),
            **extra,
        )
        return env

    def worker(self, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "autopack", "worker", "--once", "--lease-seconds", "30"],
            env=self.env(**extra),
            cwd=self.workspace,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def show(self, key: str) -> dict[str, Any]:
        proc = subprocess.run(
            [sys.executable, "-m", "autopack", "actions", "show", key, "--json"],
            env=self.env(),
            cwd=self.workspace,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        shown: dict[str, Any] = json.loads(proc.stdout)
        return shown

    def videos(self, media: dict[str, Any]) -> list[dict[str, Any]]:
        return [v for v in self.fake.effects("youtube") if v["size"] == media["size"]]


@pytest.fixture
def world(
    fake: FakesProcess, fake_oauth: FakeOAuth, workspace: Path, database_url: str
) -> Iterator[World]:
    fake_oauth.reset()
    settings = Settings(
        _env_file=None,
        workspace=workspace,
        database_url=database_url,
        api_key=API_KEY,
        secret_key=SECRET_KEY,
        oauth_server_url=fake_oauth.url,
        youtube_api_url=fake.url,
        youtube_chunk_bytes=QUANTUM,
    )
    rt = build_runtime(settings)
    with CredentialService(rt) as service:
        connect(service, fake_oauth, "youtube", ACCOUNT)
    clear_policy(rt, "youtube")
    registry = ProviderRegistry.for_runtime(rt)
    try:
        yield World(
            settings,
            rt,
            registry,
            LedgerService(rt, registry),
            ApprovalService(rt, registry),
            fake,
            workspace,
            database_url,
        )
    finally:
        registry.close()
        rt.close()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_propose_approve_worker_succeeds_with_the_video_id(world: World) -> None:
    media = world.propose("yt-e2e", 3 * QUANTUM + 5)
    proc = world.worker()
    assert proc.returncode == 0, proc.stderr
    (video,) = world.videos(media)
    assert video["sha256"] == media["sha256"]
    shown = world.show("yt-e2e")
    action = shown.get("action", shown)
    assert action["status"] == "succeeded", shown
    assert action["provider_object_id"] == video["id"]
    # The access token never reaches the ledger or the output.
    assert "ya29." not in json.dumps(shown)


def _restart_and_settle(world: World) -> Executor:
    """A new executor after the dead worker's lease ran out: reconcile, resume."""
    skew = timedelta(minutes=5)
    world.rt.clock = lambda: utc_now() + skew
    executor = Executor(world.rt, world.registry, worker="restarted")
    executor.reconcile()
    executor.run_once()
    # A "not found" counts only after the settle window: let it pass, then again.
    skew += timedelta(seconds=executor.settle_seconds_for("youtube") + 1)
    executor.reconcile()
    executor.run_once()
    executor.reconcile()
    executor.run_once()
    return executor


# point -> (crashpoint, kill delay ms, fakes faults slowing the wire)
_SLOW_PUTS = {"provider": "youtube", "kind": "delay", "method": "PUT", "seconds": 0.25, "times": 6}
CRASHES: dict[str, tuple[str, str, list[dict[str, Any]]]] = {
    "before_claim": ("before_claim", "300", []),
    "after_claim_commit": ("after_claim_commit", "300", []),
    "during_initiate": (
        "during_dispatch",
        "400",
        [{"provider": "youtube", "kind": "delay", "method": "POST", "seconds": 1.5}],
    ),
    "mid_stream": ("during_dispatch", "1100", [_SLOW_PUTS]),
    "after_response": ("after_response", "300", []),
    "after_confirm": ("after_confirm", "300", []),
}


@pytest.mark.slow
@pytest.mark.parametrize("point", sorted(CRASHES))
def test_a_killed_worker_ends_with_one_video_of_the_right_bytes(world: World, point: str) -> None:
    crashpoint, delay_ms, faults = CRASHES[point]
    key = f"yt-crash-{point}".replace("_", "-")
    size = 8 * QUANTUM + 999
    media = world.propose(key, size)
    if faults:
        world.fake.set_faults(*faults)
    proc = world.worker(**{CRASHPOINT_ENV: crashpoint, CRASHPOINT_DELAY_ENV: delay_ms})
    assert proc.returncode == -signal.SIGKILL, (point, proc.returncode, proc.stderr)
    world.fake.wait_idle()  # the dead worker's request is finished at the fake
    world.fake.clear_faults()
    before = world.ledger.get(key)
    sessions_at_crash = world.fake.control("GET", "/youtube/sessions")["sessions"]

    _restart_and_settle(world)

    after = world.ledger.get(key)
    videos = world.videos(media)
    where = f"{point}: {before.status} -> {after.status}, sessions {sessions_at_crash}"
    assert after.status == "succeeded", where  # zero lost confirmations
    assert len(videos) == 1, where  # zero duplicates
    assert after.provider_object_id == videos[0]["id"], where
    assert videos[0]["sha256"] == media["sha256"] == _sha256(world.workspace / f"{key}.mp4")
    if before.status == "succeeded":
        assert before.provider_object_id == after.provider_object_id
    sessions = world.fake.control("GET", "/youtube/sessions")["sessions"]
    if point == "mid_stream":
        # Killed with part of the bytes acknowledged: resumed from there, no new session.
        (at_crash,) = sessions_at_crash
        assert 0 < at_crash["received"] < size, where
        assert len(sessions) == 1, where
        summary = after.response_summary or {}
        assert summary.get("session") == "resumed", summary
        assert summary.get("resumed_from") == at_crash["received"], summary
        assert summary.get("bytes_sent") == size - at_crash["received"], summary
    assert sum(1 for s in sessions if s["state"] == "complete") == 1, where


def test_an_expired_session_is_parked_for_a_person(world: World) -> None:
    media = world.propose("yt-expired", 3 * QUANTUM)
    world.fake.set_faults(
        {"provider": "youtube", "kind": "partial_range", "method": "PUT", "drop_bytes": 0},
        {"provider": "youtube", "kind": "session_expired", "method": "PUT", "status": 404},
    )
    executor = Executor(world.rt, world.registry, worker="w1")
    (record,) = executor.run_once()
    assert record.status == "unknown"
    report = executor.reconcile()
    assert report["needs_attention"] == ["yt-expired"]
    final = world.ledger.get("yt-expired")
    assert final.status == "needs_attention"
    assert "a person decides" in (final.last_error or "")
    assert world.videos(media) == []
    assert len(world.fake.control("GET", "/youtube/sessions")["sessions"]) == 1
