"""Publish packets, the policy snapshots in force and the policy diffs around them
are artifacts a run context, a brief and run memory draw on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from handoff_support import (
    STORED_SECRET,
    dump,
    fix_clock,
    new_run,
    output_for,
    publish,
    run_dir,
    sha,
    two_workspaces,
)

from autopack.api.app import create_app
from autopack.domain.layout import RunRef, policy_diff_path
from autopack.services.artifacts import ARTIFACT_SOURCES, collect
from autopack.services.context import Runtime
from autopack.services.handoff import HandoffService
from autopack.services.memory import MemoryService
from autopack.services.memory.service import POLICY_GROUP
from autopack.services.policy_monitor import PolicyMonitor
from conftest import invoke_cli
from policy_support import clear_policy, policy_site

__all__ = ["two_workspaces"]  # a fixture, used by name


def test_a_runs_packets_and_policy_snapshots_are_artifacts(
    runtime: Runtime, workspace: Path
) -> None:
    ref = new_run(runtime, "r-pub")
    clear_policy(runtime, "youtube")
    built = publish(runtime, ref)
    collected = collect(runtime, ref, ARTIFACT_SOURCES)
    packets = [a for a in collected.artifacts if a.kind == "packet"]
    assert [a.path for a in packets] == [f"packets/{built.packet_id}.json"]
    assert (run_dir(runtime, ref) / packets[0].path).is_file()
    (policy,) = [s for s in collected.sections if s["name"] == "policy"]
    cited = sorted([r["provider"], r["url"], r["sha256"]] for r in built.document["policy_refs"])
    assert sorted(policy["rows"]) == cited
    assert cited  # the packet cites what was in force


CHANGED_HTML = (
    "<html><body><h1>Terms</h1><p>Publish only what you may.</p>"
    "<p>Label altered or synthetic media; zebracorn rules apply.</p></body></html>"
)
AGAIN_HTML = CHANGED_HTML.replace("zebracorn", "quokkafish")


def change_policy(rt: Runtime, html: str) -> list[tuple[str, str]]:
    """Fetch YouTube's pages again with a new text: one stored diff per page."""
    reports = PolicyMonitor(rt, transport=policy_site(html)).fetch("youtube")
    assert reports
    assert all(r["outcome"] == "changed" for r in reports), reports
    return sorted((r["previous_hash"], r["hash"]) for r in reports)


def diff_paths(rt: Runtime, pairs: list[tuple[str, str]]) -> list[str]:
    """The workspace-relative diff files of ``pairs`` (pages with the same text share one)."""
    return sorted(
        {
            policy_diff_path(rt.workspace, "youtube", old, new).relative_to(rt.workspace).as_posix()
            for old, new in pairs
        }
    )


def published_run(rt: Runtime, run_id: str = "r-pub") -> RunRef:
    """A run whose packet cites YouTube's first snapshots, then a policy change."""
    fix_clock(rt)
    ref = new_run(rt, run_id)
    clear_policy(rt, "youtube")
    publish(rt, ref)
    return ref


def test_a_run_cites_the_policy_diffs_after_the_snapshots_its_packets_cite(
    runtime: Runtime,
) -> None:
    ref = published_run(runtime)
    service = HandoffService(runtime)
    before = service.context(ref.run_id).document
    assert not [a for a in before["artifacts"] if a["kind"] == "policy_diff"]
    pairs = change_policy(runtime, CHANGED_HTML)
    document = service.context(ref.run_id).document
    cited = [a for a in document["artifacts"] if a["kind"] == "policy_diff"]
    assert [a["path"] for a in cited] == diff_paths(runtime, pairs)
    for artifact in cited:
        assert artifact["sha256"] == sha(runtime.workspace / artifact["path"])
    (changes,) = [s for s in document["sections"] if s["name"] == "policy_changes"]
    assert sorted((row[2], row[3]) for row in changes["rows"]) == pairs
    context_md = (run_dir(runtime, ref) / "handoff" / "context.md").read_text("utf-8")
    assert "## Policy changes" in context_md
    assert cited[0]["path"] in context_md
    # A later change is cited too (the page moved on again since the packet).
    later = change_policy(runtime, AGAIN_HTML)
    again = service.context(ref.run_id).document
    assert [a["path"] for a in again["artifacts"] if a["kind"] == "policy_diff"] == diff_paths(
        runtime, pairs + later
    )
    # Briefs cite them; a helper may use one as evidence, with its real hash only.
    brief = service.brief(ref.run_id, "review", "Does the packet follow the new policy?").brief
    in_brief = [a for a in brief["artifacts"] if a["kind"] == "policy_diff"]
    assert [a["path"] for a in in_brief] == diff_paths(runtime, pairs + later)
    evidence = [{"path": in_brief[0]["path"], "sha256": in_brief[0]["sha256"]}]
    finding = {"claim": "The policy now asks for labels.", "evidence": evidence}
    accepted = service.accept_bytes(
        ref.run_id, dump(output_for(runtime, ref, brief, findings=[finding]))
    )
    assert accepted.accepted, accepted.problems
    wrong = {**finding, "evidence": [{**evidence[0], "sha256": "0" * 64}]}
    refused = service.accept_bytes(
        ref.run_id, dump(output_for(runtime, ref, brief, findings=[wrong]))
    )
    assert not refused.accepted
    assert [p.code for p in refused.problems] == ["evidence_hash_mismatch"]
    # A policy file the brief does not cite is not evidence.
    snapshot = in_brief[0]["path"].replace("/diffs/", "/").split("-")[0] + ".txt"
    assert (runtime.workspace / snapshot).is_file()
    other = {
        **finding,
        "evidence": [{"path": snapshot, "sha256": sha(runtime.workspace / snapshot)}],
    }
    outside = service.accept_bytes(
        ref.run_id, dump(output_for(runtime, ref, brief, findings=[other]))
    )
    assert [p.code for p in outside.problems] == ["path_not_allowed"]
    service.close()


def test_a_run_that_only_acts_on_the_provider_cites_the_change_into_the_policy_in_force(
    runtime: Runtime,
) -> None:
    ref = published_run(runtime)
    (packet,) = (run_dir(runtime, ref) / "packets").glob("*.json")
    packet.unlink()  # no packet: the ledger action alone ties the run to YouTube
    pairs = change_policy(runtime, CHANGED_HTML)
    for old, new in sorted(set(pairs)):
        PolicyMonitor(runtime).ack("youtube", from_hash=old, to_hash=new, actor="reviewer")
    collected = collect(runtime, ref, ARTIFACT_SOURCES)
    assert [a.path for a in collected.artifacts if a.kind == "policy_diff"] == diff_paths(
        runtime, pairs
    )


def test_run_memory_indexes_every_policy_diff_idempotently(runtime: Runtime) -> None:
    runtime.note_secrets([STORED_SECRET])
    fix_clock(runtime)
    clear_policy(runtime, "youtube")
    ref = new_run(runtime, "r-other", project="shop")
    memory = MemoryService(runtime)
    memory.index_run(ref)
    assert not memory.search("zebracorn")
    pairs = change_policy(runtime, CHANGED_HTML.replace("apply", f"apply {STORED_SECRET}"))
    stray = runtime.workspace / diff_paths(runtime, pairs)[0]
    stray.with_name("zebracorn-notes.diff").write_text("zebracorn", encoding="utf-8")
    memory.index_run(ref)  # any run's next index finds the new diff (only real diff files)
    hits = memory.search("zebracorn synthetic", limit=20)
    found = [h for h in hits if h.kind == "policy_diff"]
    assert sorted(h.path for h in found) == diff_paths(runtime, pairs)
    assert {(h.project, h.family, h.run_id) for h in found} == {("", "", "")}
    assert all(h.sha256 == sha(runtime.workspace / h.path) for h in found)
    # Redacted like every artifact: the stored secret is not a word of the index.
    assert not [h for h in memory.search(STORED_SECRET) if h.kind == "policy_diff"]
    # No project owns a diff, and no run is "similar" because of one.
    assert not [h for h in memory.search("zebracorn", project="shop") if h.kind == "policy_diff"]
    assert memory.similar_runs("zebracorn synthetic", RunRef("demo", "x", "y"), 3) == []
    points = memory.index.points()
    assert sum(p.payload["run"] == POLICY_GROUP for p in points) == len(set(pairs))
    memory.index_run(ref)
    assert memory.index.points() == points  # re-indexing changes nothing
    later = change_policy(runtime, AGAIN_HTML)
    memory.index_run(ref)
    assert sorted(h.path for h in memory.search("quokkafish") if h.kind == "policy_diff") == (
        diff_paths(runtime, later)
    )
    incremental = memory.index.points()
    assert memory.rebuild() == {
        "runs": 1,
        "artifacts": len(incremental),
        "policy_diffs": len(set(pairs + later)),
    }
    assert memory.index.points() == incremental
    memory.close()


def test_cli_and_api_find_a_policy_diff(
    cli_env: Path, capsys: pytest.CaptureFixture[str], runtime: Runtime
) -> None:
    clear_policy(runtime, "youtube")
    pairs = change_policy(runtime, CHANGED_HTML)
    code, out, _ = invoke_cli(["memory", "rebuild", "--json"], capsys)
    assert code == 0
    assert json.loads(out)["policy_diffs"] == len(set(pairs))
    code, out, _ = invoke_cli(["memory", "search", "zebracorn"], capsys)
    assert code == 0
    first = diff_paths(runtime, pairs)[0]
    assert f"  {first}" in out
    assert "//" not in out
    with TestClient(create_app(runtime=runtime), raise_server_exceptions=False) as client:
        found = client.get(
            "/api/memory/search", params={"q": "zebracorn"}, headers={"X-API-Key": ADMIN_KEY}
        )
    assert found.status_code == 200, found.text
    kinds = {(h["kind"], h["run_id"], h["path"]) for h in found.json()["hits"]}
    assert {("policy_diff", "", p) for p in diff_paths(runtime, pairs)} <= kinds


ADMIN_KEY = "test-key-" + "k" * 40


@pytest.mark.postgres
def test_contexts_and_briefs_with_policy_diffs_are_byte_identical_on_both_backends(
    two_workspaces: tuple[Runtime, Runtime],
) -> None:
    written = []
    for rt in two_workspaces:
        ref = published_run(rt)
        change_policy(rt, CHANGED_HTML)
        service = HandoffService(rt)
        service.context(ref.run_id, goals=["Check the packet against the policy"])
        brief = service.brief(ref.run_id, "review", "Does the packet follow the new policy?")
        service.close()
        handoff = run_dir(rt, ref) / "handoff"
        written.append(
            [
                (handoff / "context.md").read_bytes(),
                (handoff / "context.json").read_bytes(),
                (handoff / brief.markdown_path.removeprefix("handoff/")).read_bytes(),
                (handoff / brief.json_path.removeprefix("handoff/")).read_bytes(),
            ]
        )
    assert written[0] == written[1]
    assert b"policy_diff" in written[0][3]
