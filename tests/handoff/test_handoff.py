"""Sub-agent handoff: run context, briefs and the output contract, on both backends."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from handoff_support import (
    STORED_SECRET,
    dump,
    fix_clock,
    new_run,
    output_for,
    propose,
    run_dir,
    sha,
)

from autopack.domain.errors import CheckFailedError, InvalidInputError, NotFoundError
from autopack.domain.handoff import render_context
from autopack.services.context import Runtime
from autopack.services.handoff import HandoffService
from autopack.services.ledger import LedgerService
from autopack.services.runtime import build_runtime
from conftest import invoke_cli, make_settings


@pytest.fixture
def handoff(runtime: Runtime) -> HandoffService:
    fix_clock(runtime)
    return HandoffService(runtime)


def test_context_holds_the_runs_actions_and_round_trips(
    runtime: Runtime, handoff: HandoffService
) -> None:
    ref = new_run(runtime, "r1")
    propose(runtime, "r1", "vid-1")
    result = handoff.context("r1", goals=["Publish the spring video"], constraints=["Paper only"])
    directory = run_dir(runtime, ref)
    document = json.loads((directory / "handoff/context.json").read_text("utf-8"))
    assert document == result.document
    assert document["goals"] == ["Publish the spring video"]
    assert document["run"] == {
        "project": "demo",
        "family": "research",
        "run_id": "r1",
        "created_at": "2026-11-24T01:02:03Z",
    }
    (actions,) = document["sections"]
    assert actions["name"] == "actions"
    record = LedgerService(runtime).get("vid-1")
    row = dict(zip(actions["columns"], actions["rows"][0], strict=True))
    assert row["status"] == "awaiting_approval"
    assert row["payload_hash"] == record.payload_hash
    assert row["request_hash"] == record.request_hash
    assert {"path": "run.json", "kind": "run", "sha256": sha(directory / "run.json")} in document[
        "artifacts"
    ]
    markdown = (directory / "handoff/context.md").read_text("utf-8")
    assert markdown == render_context(document)
    assert record.payload_hash in markdown
    handoff.check_context("r1")


def test_context_is_deterministic_and_keeps_goals(
    runtime: Runtime, handoff: HandoffService
) -> None:
    ref = new_run(runtime, "r1")
    handoff.context("r1", goals=["b goal", "a goal"], questions=["why?"])
    directory = run_dir(runtime, ref)
    first = (directory / "handoff/context.json").read_bytes()
    # No wall clock inside: a later clock changes nothing; unspecified notes are kept.
    runtime.clock = lambda: __import__("datetime").datetime(
        2030, 1, 1, tzinfo=__import__("datetime").UTC
    )
    handoff.context("r1")
    assert (directory / "handoff/context.json").read_bytes() == first
    assert json.loads(first)["goals"] == ["a goal", "b goal"]


def test_check_fails_when_the_markdown_was_edited(
    runtime: Runtime, handoff: HandoffService
) -> None:
    ref = new_run(runtime, "r1")
    with pytest.raises(NotFoundError) as missing:
        handoff.check_context("r1")
    assert missing.value.code == "context_not_found"
    handoff.context("r1", goals=["g"])
    markdown = run_dir(runtime, ref) / "handoff/context.md"
    markdown.write_text(markdown.read_text("utf-8") + "edited\n", encoding="utf-8")
    with pytest.raises(CheckFailedError) as stale:
        handoff.check_context("r1")
    assert stale.value.code == "context_stale"
    handoff.context("r1")
    handoff.check_context("r1")


def test_context_and_briefs_are_redacted(runtime: Runtime, handoff: HandoffService) -> None:
    runtime.note_secrets([STORED_SECRET])
    ref = new_run(runtime, "r1")
    handoff.context("r1", goals=[f"use token {STORED_SECRET}"])
    brief = handoff.brief("r1", "research", f"check {STORED_SECRET} and ghp_{'a' * 36}")
    for path in (run_dir(runtime, ref) / "handoff").rglob("*"):
        if path.is_file():
            text = path.read_text("utf-8")
            assert STORED_SECRET not in text, path
            assert "ghp_" + "a" * 36 not in text, path
    assert "[REDACTED:" in brief.brief["goal"]


def test_briefs_are_deterministic(runtime: Runtime, handoff: HandoffService) -> None:
    ref = new_run(runtime, "r1")
    handoff.context("r1", goals=["g"])
    first = handoff.brief("r1", "plan", "Plan the upload")
    again = handoff.brief("r1", "plan", "Plan the upload")
    assert again.brief == first.brief
    assert again.sha256 == first.sha256
    other = handoff.brief("r1", "review", "Plan the upload")
    assert other.brief["id"] != first.brief["id"]
    directory = run_dir(runtime, ref)
    written = directory / first.json_path
    assert sha(written) == first.sha256
    assert (
        (directory / first.markdown_path)
        .read_text("utf-8")
        .startswith(f"# Brief {first.brief['id']}: plan")
    )
    # Every cited artifact is a real file with the cited hash; no brief cites another.
    for artifact in first.brief["artifacts"]:
        assert sha(directory / artifact["path"]) == artifact["sha256"]
        assert "briefs/" not in artifact["path"]
    assert {a["path"] for a in first.brief["artifacts"]} >= {
        "run.json",
        "handoff/context.json",
        "handoff/context.md",
    }
    assert first.brief["output_contract"]["schema"] == "autopack.handoff-output/1"
    assert (directory / "handoff/output.schema.json").is_file()


def test_a_brief_cites_the_most_similar_earlier_runs(
    runtime: Runtime, handoff: HandoffService
) -> None:
    new_run(runtime, "garden")
    new_run(runtime, "trading")
    new_run(runtime, "now")
    handoff.context("garden", goals=["Upload the gardening video about tulips and roses"])
    handoff.context("trading", goals=["Rebalance the paper trading portfolio"])
    result = handoff.brief("now", "research", "Which tulips and roses go in the gardening video?")
    similar = result.brief["similar_runs"]
    assert [s["run_id"] for s in similar][:1] == ["garden"]
    assert all(s["run_id"] != "now" for s in similar)
    assert similar[0]["path"] == "handoff/context.md"


def test_unknown_task_and_run_are_refused(runtime: Runtime, handoff: HandoffService) -> None:
    new_run(runtime, "r1")
    with pytest.raises(InvalidInputError) as bad:
        handoff.brief("r1", "execute", "goal")
    assert bad.value.code == "invalid_task"
    with pytest.raises(InvalidInputError) as empty:
        handoff.brief("r1", "plan", "   ")
    assert empty.value.code == "invalid_handoff_text"
    with pytest.raises(NotFoundError):
        handoff.brief("nope", "plan", "goal")


# -- the output contract -----------------------------------------------------------


@pytest.fixture
def briefed(runtime: Runtime, handoff: HandoffService) -> tuple[Any, dict[str, Any]]:
    runtime.note_secrets([STORED_SECRET])
    ref = new_run(runtime, "r1")
    handoff.context("r1", goals=["Publish the spring video"])
    return ref, handoff.brief("r1", "research", "Check the spring video").brief


def _rejected(handoff: HandoffService, data: bytes, code: str) -> Any:
    result = handoff.accept_bytes("r1", data)
    assert not result.accepted
    assert code in {p.code for p in result.problems}, result.problems
    return result


def test_a_valid_output_with_proposed_actions_is_recorded_never_executed(
    runtime: Runtime, handoff: HandoffService, briefed: tuple[Any, dict[str, Any]]
) -> None:
    ref, brief = briefed
    action = {
        "provider": "sandbox",
        "action": "video.upload",
        "payload": {"title": "Spring"},
        "rationale": "the goal asks for it",
    }
    document = output_for(runtime, ref, brief, proposed_actions=[action])
    result = handoff.accept_bytes("r1", dump(document))
    assert result.accepted, result.problems
    assert result.proposed_actions == 1
    assert "never executed" in result.notes[0]
    directory = run_dir(runtime, ref)
    kept = json.loads((directory / result.path).read_text("utf-8"))
    assert kept["proposed_actions"] == [action]
    # Recorded only: nothing reached the ledger.
    assert LedgerService(runtime).list(run_id="r1") == []
    assert LedgerService(runtime).list() == []
    # The output's open question flowed into the context, which still checks.
    context = json.loads((directory / "handoff/context.json").read_text("utf-8"))
    assert "Which channel should it go to?" in context["open_questions"]
    handoff.check_context("r1")
    shown = handoff.show("r1")
    assert shown["outputs"][0]["proposed_actions"] == [action]


@pytest.mark.parametrize(
    "encode",
    [
        pytest.param(lambda s: s, id="plain"),
        pytest.param(lambda s: base64.b64encode(f"user:{s}".encode()).decode(), id="base64"),
        pytest.param(lambda s: base64.urlsafe_b64encode(s.encode()).decode(), id="base64url"),
        pytest.param(lambda s: s.encode().hex(), id="hex"),
        pytest.param(lambda s: quote(s, safe=""), id="url"),
    ],
)
def test_a_stored_secret_in_any_encoding_is_rejected(
    runtime: Runtime,
    handoff: HandoffService,
    briefed: tuple[Any, dict[str, Any]],
    encode: Any,
) -> None:
    ref, brief = briefed
    hidden = encode(STORED_SECRET)
    document = output_for(runtime, ref, brief, summary=f"see {hidden} there")
    result = _rejected(handoff, dump(document), "secret")
    directory = run_dir(runtime, ref)
    kept = (directory / result.path).read_text("utf-8")
    assert hidden not in kept
    assert STORED_SECRET not in kept
    reason = (directory / str(result.reason_path)).read_text("utf-8")
    assert hidden not in reason
    assert STORED_SECRET not in reason
    assert json.loads(reason)["problems"]


def test_a_json_escaped_secret_and_a_base64_token_pattern_are_rejected(
    runtime: Runtime, handoff: HandoffService, briefed: tuple[Any, dict[str, Any]]
) -> None:
    ref, brief = briefed
    escaped = "".join(f"\\u{ord(c):04x}" for c in STORED_SECRET)
    raw = dump(output_for(runtime, ref, brief, summary="PLACEHOLDER")).replace(
        b"PLACEHOLDER", escaped.encode()
    )
    _rejected(handoff, raw, "secret")
    token = base64.b64encode(("ghp_" + "Z9" * 18).encode()).decode()
    _rejected(handoff, dump(output_for(runtime, ref, brief, summary=f"t {token}")), "secret")


@pytest.mark.parametrize(
    "path",
    [
        "../r2/run.json",
        "handoff/../run.json",
        "/etc/passwd",
        "handoff\\context.md",
        "ledger/x.json",
    ],
)
def test_evidence_outside_handoff_and_the_cited_artifacts_is_rejected(
    runtime: Runtime, handoff: HandoffService, briefed: tuple[Any, dict[str, Any]], path: str
) -> None:
    ref, brief = briefed
    evidence = [{"claim": "c", "evidence": [{"path": path, "sha256": "0" * 64}]}]
    _rejected(handoff, dump(output_for(runtime, ref, brief, findings=evidence)), "path_not_allowed")


def test_a_symlink_out_of_handoff_is_rejected(
    runtime: Runtime,
    handoff: HandoffService,
    briefed: tuple[Any, dict[str, Any]],
    tmp_path: Path,
) -> None:
    ref, brief = briefed
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("x", encoding="utf-8")
    (run_dir(runtime, ref) / "handoff" / "escape").symlink_to(outside)
    evidence = [
        {
            "claim": "c",
            "evidence": [
                {"path": "handoff/escape/secret.txt", "sha256": sha(outside / "secret.txt")}
            ],
        }
    ]
    _rejected(handoff, dump(output_for(runtime, ref, brief, findings=evidence)), "path_not_allowed")


def test_a_cited_artifact_outside_handoff_is_allowed(
    runtime: Runtime, handoff: HandoffService, briefed: tuple[Any, dict[str, Any]]
) -> None:
    ref, brief = briefed
    run_json = run_dir(runtime, ref) / "run.json"
    evidence = [{"claim": "c", "evidence": [{"path": "run.json", "sha256": sha(run_json)}]}]
    assert handoff.accept_bytes(
        "r1", dump(output_for(runtime, ref, brief, findings=evidence))
    ).accepted
    wrong = [{"claim": "c", "evidence": [{"path": "run.json", "sha256": "1" * 64}]}]
    _rejected(
        handoff, dump(output_for(runtime, ref, brief, findings=wrong)), "evidence_hash_mismatch"
    )


def test_a_wrong_brief_hash_or_id_is_rejected(
    runtime: Runtime, handoff: HandoffService, briefed: tuple[Any, dict[str, Any]]
) -> None:
    ref, brief = briefed
    _rejected(
        handoff,
        dump(output_for(runtime, ref, brief, brief_sha256="a" * 64)),
        "brief_hash_mismatch",
    )
    _rejected(handoff, dump(output_for(runtime, ref, brief, brief_id="b" * 24)), "brief_not_found")


def test_schema_breaks_and_bad_json_are_rejected(
    runtime: Runtime, handoff: HandoffService, briefed: tuple[Any, dict[str, Any]]
) -> None:
    ref, brief = briefed
    _rejected(handoff, dump(output_for(runtime, ref, brief, extra="x")), "schema")
    _rejected(handoff, dump(output_for(runtime, ref, brief, confidence="0.9")), "schema")
    _rejected(handoff, b'{"schema": 1.5}', "invalid_json")


def test_urls_must_be_on_the_allowlist(workspace: Path, database_url: str, tmp_path: Path) -> None:
    rt = build_runtime(
        make_settings(workspace, database_url, handoff_url_allowlist="docs.example.org")
    )
    try:
        fix_clock(rt)
        service = HandoffService(rt)
        ref = new_run(rt, "r1")
        service.context("r1", goals=["g"])
        brief = service.brief("r1", "research", "goal").brief
        assert brief["url_allowlist"] == ["docs.example.org"]
        ok = output_for(rt, ref, brief, summary="see https://api.docs.example.org/page")
        assert service.accept_bytes("r1", dump(ok)).accepted
        bad = output_for(rt, ref, brief, summary="see https://evil.test/x")
        result = service.accept_bytes("r1", dump(bad))
        assert [p.code for p in result.problems] == ["url_not_allowed", "url_not_allowed"]
    finally:
        rt.close()


# -- the command line ----------------------------------------------------------------


def test_cli_context_check_brief_and_accept(
    cli_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        invoke_cli(["runs", "new", "--project", "demo", "--family", "f", "--run-id", "r1"], capsys)[
            0
        ]
        == 0
    )
    code, out, _ = invoke_cli(["handoff", "context", "r1", "--goal", "Ship it"], capsys)
    assert code == 0
    assert "handoff/context.md" in out
    assert invoke_cli(["handoff", "context", "r1", "--check"], capsys)[0] == 0
    directory = cli_env / ".autonomous_runs/demo/runs/f/r1"
    (directory / "handoff/context.md").write_text("hand edit\n", encoding="utf-8")
    code, _, err = invoke_cli(["handoff", "context", "r1", "--check"], capsys)
    assert code == 1
    assert "differs" in err
    assert invoke_cli(["handoff", "context", "r1"], capsys)[0] == 0
    assert invoke_cli(["handoff", "brief", "r1", "--task", "bogus", "--goal", "g"], capsys)[0] == 2
    code, out, _ = invoke_cli(
        ["handoff", "brief", "r1", "--task", "plan", "--goal", "Plan it", "--json"], capsys
    )
    assert code == 0
    made = json.loads(out)
    brief = made["brief"]
    outputs = directory / "handoff" / "outputs"
    outputs.mkdir(parents=True)
    good = outputs / f"{brief['id']}.json"
    document = {
        "schema": "autopack.handoff-output/1",
        "brief_id": brief["id"],
        "brief_sha256": made["sha256"],
        "summary": "ok",
        "findings": [],
        "proposed_actions": [],
        "open_questions": [],
        "confidence": "low",
    }
    good.write_text(json.dumps(document), encoding="utf-8")
    code, out, _ = invoke_cli(["handoff", "accept", "r1", str(good)], capsys)
    assert code == 0
    assert "accepted" in out
    bad = outputs / "bad.json"
    bad.write_text(
        json.dumps({**document, "summary": "../../etc https://x.test"}), encoding="utf-8"
    )
    code, out, _ = invoke_cli(["handoff", "accept", "r1", str(bad)], capsys)
    assert code == 1
    assert "url_not_allowed" in out
    assert not bad.exists(), "a refused file moves to handoff/rejected/"
    assert len(list((directory / "handoff/rejected").glob("*.reason.json"))) == 1
    assert invoke_cli(["handoff", "accept", "r1", str(outputs / "missing.json")], capsys)[0] == 2
    code, out, _ = invoke_cli(["handoff", "show", "r1"], capsys)
    assert code == 0
    assert json.loads(out)["outputs"][0]["brief_id"] == brief["id"]


def test_many_open_questions_from_outputs_keep_the_context_usable(
    runtime: Runtime, handoff: HandoffService, briefed: tuple[Any, dict[str, Any]]
) -> None:
    ref, brief = briefed
    questions = [f"Question number {i}?" for i in range(80)]
    document = output_for(runtime, ref, brief, open_questions=questions)
    assert handoff.accept_bytes("r1", dump(document)).accepted
    context = handoff.context("r1").document
    assert set(questions) <= set(context["open_questions"])
    handoff.check_context("r1")


def test_the_brief_names_the_schema_file_by_its_real_hash(
    runtime: Runtime, briefed: tuple[Any, dict[str, Any]]
) -> None:
    ref, brief = briefed
    contract = brief["output_contract"]
    schema_file = run_dir(runtime, ref) / contract["schema_file"]
    assert sha(schema_file) == contract["schema_sha256"]
    assert json.loads(schema_file.read_text("utf-8"))["$id"] == "urn:autopack:handoff-output:1"


def test_a_symlinked_handoff_directory_is_never_written_through(
    runtime: Runtime, handoff: HandoffService, tmp_path: Path
) -> None:
    ref = new_run(runtime, "r1")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (run_dir(runtime, ref) / "handoff").symlink_to(outside)
    with pytest.raises(InvalidInputError) as refused:
        handoff.context("r1", goals=["g"])
    assert refused.value.code == "path_escapes_run"
    assert list(outside.iterdir()) == []
