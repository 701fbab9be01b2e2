"""A publish packet cites the policy snapshots it was built under: the policy gate
lets its action through only while they are still the current acknowledged ones."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from autopack.domain.canonical import canonical_json
from autopack.domain.error_codes import ErrorCode
from autopack.domain.gates import ActionFacts, CredentialFacts, CredentialRequirement, GateFacts
from autopack.domain.gates.policy import PolicyGate
from autopack.services.context import Runtime
from autopack.services.gates import GateService, packet_policy_refs
from autopack.services.ledger import make_store
from autopack.services.packet_refs import packet_service
from autopack.services.policy_monitor import PolicyMonitor
from autopack.services.runtime import build_runtime
from conftest import make_settings
from policy.policy_site import PolicySite, serve_policy_site
from policy.test_monitor import GUIDELINES, START, TERMS, TERMS_CHANGED, Clock, watch_only

MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x01" * 512
SPEC = {
    "provider": "youtube",
    "action": "video.upload",
    "fields": {"title": "Clip", "privacyStatus": "private"},
    "disclosures": {"containsSyntheticMedia": True, "selfDeclaredMadeForKids": False},
}


@pytest.fixture
def site_and_runtime(workspace: Path, database_url: str) -> Iterator[tuple[PolicySite, Runtime]]:
    with serve_policy_site() as site:
        rt = build_runtime(make_settings(workspace, database_url))
        clock = Clock()
        clock.now = START
        rt.clock = clock
        site.pages["/terms"] = TERMS
        site.pages["/guidelines"] = GUIDELINES
        watch_only(PolicyMonitor(rt), "youtube", [site.url("/terms"), site.url("/guidelines")])
        try:
            yield site, rt
        finally:
            rt.close()


def _build(rt: Runtime, workspace: Path) -> dict[str, Any]:
    (workspace / "spec.json").write_text(json.dumps(SPEC), encoding="utf-8")
    (workspace / "clip.mp4").write_bytes(MP4)
    return packet_service(rt).build(workspace / "spec.json", [workspace / "clip.mp4"]).document


def _verdict(rt: Runtime, payload: dict[str, Any]) -> tuple[str, ErrorCode | None]:
    gates = GateService(make_store(rt), requirements={})
    with rt.engine.connect() as conn:
        policy = gates.policy(conn, "youtube", "publish", canonical_json(payload).decode())
    facts = GateFacts(
        now=rt.clock(),
        action=ActionFacts("youtube", "video.upload", "chan", "publish", "0" * 64, 0),
        approval=None,
        credential=CredentialFacts(CredentialRequirement.NONE),
        policy=policy,
    )
    result = PolicyGate().check(facts)
    return result.verdict.value, result.code


def test_a_packet_passes_only_under_the_snapshots_it_cites(
    site_and_runtime: tuple[PolicySite, Runtime], workspace: Path
) -> None:
    site, rt = site_and_runtime
    monitor = PolicyMonitor(rt)
    monitor.fetch("youtube")
    packet = _build(rt, workspace)
    cited = {(r["url"], r["sha256"]) for r in packet["policy_refs"]}
    assert cited == {(r.url, r.hash) for r in monitor.current_refs("youtube")}
    assert len(cited) == 2
    assert _verdict(rt, packet) == ("allow", None)

    # The terms change and are acknowledged: the old packet now cites outdated rules.
    site.pages["/terms"] = TERMS_CHANGED
    changed = {r["url"]: r for r in monitor.fetch("youtube")}[site.url("/terms")]
    monitor.ack("youtube", from_hash=changed["previous_hash"], to_hash=changed["hash"], actor="al")
    verdict, code = _verdict(rt, packet)
    assert (verdict, code) == ("hold", ErrorCode.PACKET_POLICY_NOT_CURRENT)
    rebuilt = _build(rt, workspace)
    assert rebuilt["policy_refs"] != packet["policy_refs"]
    assert _verdict(rt, rebuilt) == ("allow", None)
    # A payload that is not a packet has no refs to check.
    assert packet_policy_refs(canonical_json({"title": "x"}).decode()) is None


def test_a_packet_built_before_any_acknowledged_snapshot_holds_once_there_is_one(
    site_and_runtime: tuple[PolicySite, Runtime], workspace: Path
) -> None:
    _, rt = site_and_runtime
    packet = _build(rt, workspace)
    assert packet["policy_refs"] == []
    PolicyMonitor(rt).fetch("youtube")
    assert _verdict(rt, packet) == ("hold", ErrorCode.PACKET_POLICY_NOT_CURRENT)
