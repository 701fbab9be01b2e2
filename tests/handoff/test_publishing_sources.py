"""Publish packets and the policy snapshots in force are artifacts a run context,
a brief and run memory draw on."""

from __future__ import annotations

import json
from pathlib import Path

from handoff_support import new_run, run_dir

from autopack.services.artifacts import ARTIFACT_SOURCES, collect
from autopack.services.context import Runtime
from autopack.services.ledger import IntentRequest, LedgerService
from autopack.services.packet_refs import packet_service
from policy_support import clear_policy

MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x02" * 256


def test_a_runs_packets_and_policy_snapshots_are_artifacts(
    runtime: Runtime, workspace: Path
) -> None:
    ref = new_run(runtime, "r-pub")
    clear_policy(runtime, "youtube")
    spec = workspace / "spec.json"
    spec.write_text(
        json.dumps(
            {
                "provider": "youtube",
                "action": "video.upload",
                "fields": {"title": "Clip", "privacyStatus": "private"},
                "disclosures": {"containsSyntheticMedia": False, "selfDeclaredMadeForKids": False},
            }
        ),
        encoding="utf-8",
    )
    (workspace / "clip.mp4").write_bytes(MP4)
    built = packet_service(runtime).build(spec, [workspace / "clip.mp4"], run_id=ref.run_id)
    LedgerService(runtime).propose(
        IntentRequest(
            provider="youtube",
            action="video.upload",
            account="chan",
            key="pub-1",
            payload=built.document,
            run_id=ref.run_id,
        )
    )
    collected = collect(runtime, ref, ARTIFACT_SOURCES)
    packets = [a for a in collected.artifacts if a.kind == "packet"]
    assert [a.path for a in packets] == [f"packets/{built.packet_id}.json"]
    assert (run_dir(runtime, ref) / packets[0].path).is_file()
    (policy,) = [s for s in collected.sections if s["name"] == "policy"]
    cited = sorted([r["provider"], r["url"], r["sha256"]] for r in built.document["policy_refs"])
    assert sorted(policy["rows"]) == cited
    assert cited  # the packet cites what was in force
