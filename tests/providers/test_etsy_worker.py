"""Etsy ``listing.create`` end to end and under crashes: propose -> approve -> a
real ``autopack worker`` process -> the Etsy fake (a real process) -> the
listing id in ``actions show``; and the crash matrix: the worker SIGKILLed at
each executor crashpoint and between the draft and its images, then reconcile
and work again: one listing per action at the fake, never a lost confirmation.
Both database backends; the Etsy account is connected through the fake OAuth
server into the real credential store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from autopack.services.approvals import ApprovalService
from autopack.services.context import Runtime, utc_now
from autopack.services.credentials import CredentialService
from autopack.services.executor import CRASHPOINT_DELAY_ENV, CRASHPOINT_ENV, Executor
from autopack.services.ledger import IntentRequest, LedgerService
from autopack.services.packet_refs import current_policy_refs
from autopack.services.providers import ProviderRegistry
from autopack.services.runtime import build_runtime
from autopack.settings import Settings
from conftest import invoke_cli, make_settings
from credentials.cred_support import SECRET_KEY, FakeOAuth, connect, fake_oauth_process
from fakes_support import FakesProcess, running_fakes
from policy_support import clear_policy

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "etsy" / "listing.create"
SHARED_SECRET = "etsy-shared-secret-Hk3Np8Vt5Wq2"
KEYSTRING = "etsykeystring42"
ACCOUNT = "shop-main"


@dataclass
class Stack:
    settings: Settings
    runtime: Runtime
    fakes: FakesProcess
    workspace: Path

    def env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("AUTOPACK_") or k.endswith("PG_URL")
        }
        env.update(
            AUTOPACK_WORKSPACE=str(self.workspace),
            AUTOPACK_DATABASE_URL=str(self.settings.database_url),
            AUTOPACK_SECRET_KEY=SECRET_KEY,
            AUTOPACK_OAUTH_SERVER_URL=str(self.settings.oauth_server_url),
            AUTOPACK_ETSY_CLIENT_ID=KEYSTRING,
            AUTOPACK_ETSY_SHARED_SECRET=SHARED_SECRET,
            AUTOPACK_ETSY_API_URL=self.settings.etsy_api_url,
        )
        return env


@pytest.fixture(scope="module")
def fake_oauth() -> Iterator[FakeOAuth]:
    with fake_oauth_process() as server:
        yield server


@pytest.fixture
def stack(
    tmp_path: Path, workspace: Path, database_url: str, fake_oauth: FakeOAuth
) -> Iterator[Stack]:
    target = workspace / "examples" / "etsy" / "listing.create"
    target.mkdir(parents=True)
    (target / "image.png").write_bytes((EXAMPLE / "image.png").read_bytes())
    with running_fakes(tmp_path, "etsy") as fakes:
        settings = make_settings(
            workspace,
            database_url,
            secret_key=SECRET_KEY,
            oauth_server_url=fake_oauth.url,
            etsy_client_id=KEYSTRING,
            etsy_shared_secret=SHARED_SECRET,
            etsy_api_url=fakes.url + "/v3/application",
        )
        rt = build_runtime(settings)
        try:
            with CredentialService(rt) as service:
                connect(service, fake_oauth, "etsy", ACCOUNT)
            clear_policy(rt, "etsy")
            yield Stack(settings, rt, fakes, workspace)
        finally:
            rt.close()


def propose(stack: Stack, key: str, title: str) -> Any:
    payload = json.loads((EXAMPLE / "payload.json").read_text("utf-8"))  # a publish packet
    payload["fields"]["title"] = title
    # Cite the policy snapshots the test cleared (the example cites none).
    payload["policy_refs"] = [ref.to_dict() for ref in current_policy_refs(stack.runtime, "etsy")]
    registry = ProviderRegistry(stack.settings)
    try:
        record = (
            LedgerService(stack.runtime, registry)
            .propose(
                IntentRequest(
                    provider="etsy",
                    action="listing.create",
                    account=ACCOUNT,
                    key=key,
                    payload=payload,
                )
            )
            .record
        )
        assert record.approval_id is not None
        ApprovalService(stack.runtime, registry).approve(
            record.approval_id, hash_=record.payload_hash, approver="alice"
        )
    finally:
        registry.close()
    return record


def worker(stack: Stack, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "autopack", "worker", "--once", "--lease-seconds", "60"],
        env={**stack.env(), **env},
        cwd=stack.workspace,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def listings(stack: Stack, title: str) -> list[dict[str, Any]]:
    return [e for e in stack.fakes.effects("etsy") if e["title"] == title]


def progress_of(stack: Stack, key: str) -> dict[str, Any]:
    with stack.runtime.engine.connect() as conn:
        raw = conn.execute(
            text("SELECT progress FROM external_actions WHERE idempotency_key = :k"), {"k": key}
        ).scalar_one()
    state: dict[str, Any] = json.loads(raw) if raw else {}
    return state


def test_end_to_end_through_the_worker(
    stack: Stack, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    propose(stack, "e2e-1", "End to end mug")
    proc = worker(stack)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, (out, err)
    record = LedgerService(stack.runtime, ProviderRegistry(stack.settings)).get("e2e-1")
    assert record.status == "succeeded", (record, out, err)
    (listing,) = listings(stack, "End to end mug")
    assert listing["state"] == "active"
    assert len(listing["images"]) == 1
    assert "autopack-ref:" not in listing["description"]
    for name, value in stack.env().items():
        if name.startswith("AUTOPACK_"):
            monkeypatch.setenv(name, value)
    code, shown, err = invoke_cli(["actions", "show", "e2e-1", "--json"], capsys)
    assert code == 0, err
    record = json.loads(shown)["action"]
    assert record["status"] == "succeeded"
    assert record["provider_object_id"] == str(listing["listing_id"])
    # The secrets never reach the ledger, however it is read.
    code, everything, _ = invoke_cli(["actions", "list", "--json"], capsys)
    assert SHARED_SECRET not in shown + everything
    assert KEYSTRING + ":" not in shown + everything
    with stack.runtime.engine.connect() as conn:
        tables = [
            r[0]
            for r in conn.execute(
                text(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
                )
                if stack.settings.effective_database_url.startswith("postgresql")
                else text("SELECT name FROM sqlite_master WHERE type = 'table'")
            )
        ]
        dump = "".join(
            str(conn.execute(text(f"SELECT * FROM {table}")).fetchall())  # noqa: S608 - names from the catalogue
            for table in tables
        )
    assert "external_actions" in tables
    assert SHARED_SECRET not in dump  # not in any table of the ledger's database


# point -> (crashpoint, the fault queued at the fake first, or None)
POINTS: dict[str, tuple[str, dict[str, Any] | None]] = {
    "before_claim": ("before_claim", None),
    "after_claim_commit": ("after_claim_commit", None),
    "during_dispatch": ("during_dispatch", {"kind": "delay", "seconds": 1.0, "method": "POST"}),
    "provider_committed_no_response": (
        "after_response",
        {"kind": "lost_response", "method": "POST", "path_contains": "/listings"},
    ),
    "after_response_before_confirm": ("after_response", None),
    "after_confirm": ("after_confirm", None),
}


def restart_and_finish(stack: Stack, skew: list[timedelta]) -> None:
    """A new executor after the dead worker's lease (and the settle window) ran out."""
    registry = ProviderRegistry.for_runtime(stack.runtime)
    try:
        skew[0] += timedelta(minutes=5)
        executor = Executor(stack.runtime, registry, worker="restarted")
        executor.reconcile()
        skew[0] += timedelta(seconds=executor.settle_seconds_for("etsy") + 1)
        for _ in range(3):
            executor.reconcile()
            executor.run_once()
    finally:
        registry.close()


def check(stack: Stack, key: str, title: str, before: Any, where: str) -> None:
    after = LedgerService(stack.runtime, ProviderRegistry(stack.settings)).get(key)
    found = listings(stack, title)
    assert len(found) == 1, f"{where}: {len(found)} listings"  # zero duplicates, one effect
    assert (after.status, after.provider_object_id) == (
        "succeeded",
        str(found[0]["listing_id"]),
    ), where
    if before.status == "succeeded":  # confirmed before the crash: never lost
        assert before.provider_object_id == after.provider_object_id, where
    assert found[0]["state"] == "active", where
    assert sorted(i["rank"] for i in found[0]["images"]) == [1], where


def test_crash_matrix(stack: Stack) -> None:
    skew = [timedelta(0)]
    stack.runtime.clock = lambda: utc_now() + skew[0]
    for name, (point, fault) in POINTS.items():
        key = f"crash-{name}".replace("_", "-")
        title = f"Crash mug {name}"[:140]
        propose(stack, key, title)
        if fault is not None:
            stack.fakes.set_faults({"provider": "etsy", **fault})
        proc = worker(stack, **{CRASHPOINT_ENV: point, CRASHPOINT_DELAY_ENV: "300"})
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == -signal.SIGKILL, (name, proc.returncode, out, err)
        stack.fakes.wait_idle()
        stack.fakes.clear_faults()
        before = LedgerService(stack.runtime, ProviderRegistry(stack.settings)).get(key)
        restart_and_finish(stack, skew)
        check(stack, key, title, before, name)
    LedgerService(stack.runtime, ProviderRegistry(stack.settings)).verify_chain()


def test_sigkill_between_the_draft_and_the_images_resumes_to_one_listing(stack: Stack) -> None:
    """The worker dies while its first image upload is in flight: the draft's id
    was checkpointed before that request, so the restart resumes the same draft
    (the image it may have left is replaced, not doubled) and publishes it."""
    skew = [timedelta(0)]
    stack.runtime.clock = lambda: utc_now() + skew[0]
    key, title = "crash-between", "Crash mug between draft and images"
    propose(stack, key, title)
    stack.fakes.set_faults(
        {"provider": "etsy", "kind": "delay", "seconds": 3.0, "path_contains": "/images"}
    )
    proc = worker(stack)
    try:
        deadline = time.monotonic() + 60
        # The delay fault is taken when the image request arrives: the draft exists
        # and its id was checkpointed before that request was sent.
        while stack.fakes.pending_faults() and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.02)
        assert not stack.fakes.pending_faults()
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    (draft,) = listings(stack, title)
    assert draft["state"] == "draft"
    state = progress_of(stack, key)
    assert (state["listing_id"], state["images_done"]) == (draft["listing_id"], 0)
    before = LedgerService(stack.runtime, ProviderRegistry(stack.settings)).get(key)
    assert before.status == "dispatching"
    stack.fakes.wait_idle()  # the dead worker's image lands (or not): both are fine
    restart_and_finish(stack, skew)
    check(stack, key, title, before, "between draft and images")
    assert progress_of(stack, key)["published"] is True
