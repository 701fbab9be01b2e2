"""Run memory: deterministic vectors, idempotent indexing, rebuild == incremental,
the same ranking on SQLite and PostgreSQL workspaces and on both Qdrant engines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from handoff_support import fix_clock, new_run, propose, two_workspaces
from qdrant_client import QdrantClient

from autopack.domain.errors import InvalidInputError, UnavailableError
from autopack.domain.layout import RunRef
from autopack.domain.memory import document_vector, point_id, query_vector, term_index, terms
from autopack.services.context import Runtime
from autopack.services.handoff import HandoffService
from autopack.services.memory import MemoryService, open_index
from autopack.services.memory.index import EmbeddedIndex, ServerIndex
from autopack.services.runs import RunService
from autopack.services.runtime import build_runtime
from conftest import (
    invoke_cli,
    make_settings,
)
from net_support import free_port

__all__ = ["two_workspaces"]  # a fixture, used by name

GOALS = {
    "garden": "Upload the gardening video about tulips and roses in spring",
    "tulips": "Write the tulip bulb listing for the spring shop",
    "trading": "Rebalance the paper trading portfolio after the earnings report",
    "orders": "Review yesterday's paper orders and their fills",
}


def _corpus(rt: Runtime) -> HandoffService:
    """The same runs and artifacts, whatever the backend."""
    fix_clock(rt)
    service = HandoffService(rt)
    for run_id, goal in GOALS.items():
        new_run(rt, run_id, project="shop" if run_id in ("tulips", "garden") else "desk")
        service.context(run_id, goals=[goal])
    propose(rt, "orders", "order-1", title="paper order fills")
    service.context("orders")
    service.brief("garden", "research", "Which roses bloom in spring?")
    return service


def _ranking(memory: MemoryService, text: str, project: str | None = None) -> list[tuple[str, ...]]:
    return [
        (h.run_id, h.path, h.sha256, f"{h.score:.5f}")
        for h in memory.search(text, project=project, limit=20)
    ]


def test_vectors_depend_only_on_the_text() -> None:
    assert terms("The Tulips, the ROSES and a x!") == ["tulips", "roses"]
    assert term_index("tulips") == term_index("tulips") < 1 << 20
    # Pinned: a change of hash or weighting changes every ranking, on purpose only.
    assert term_index("tulips") == 1006544
    vector = document_vector("tulips tulips roses")
    assert vector.indices == tuple(sorted(vector.indices))
    weights = dict(zip(vector.indices, vector.values, strict=True))
    assert weights[term_index("tulips")] > weights[term_index("roses")] > 0
    assert query_vector("roses tulips roses").values == (1.0, 1.0)
    assert point_id("a/b", "0" * 64) == point_id("a/b", "0" * 64) != point_id("a/b", "1" * 64)


def test_search_ranks_similar_runs_and_filters_by_project(runtime: Runtime) -> None:
    service = _corpus(runtime)
    hits = service.memory.search("tulips in spring", limit=5)
    assert hits[0].run_id in ("garden", "tulips")
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
    assert all(h.project == "desk" for h in service.memory.search("paper", project="desk"))
    assert {h.run_id for h in service.memory.search("paper trading orders")} >= {
        "trading",
        "orders",
    }
    with pytest.raises(InvalidInputError) as empty:
        service.memory.search("the and of")
    assert empty.value.code == "invalid_query"


def test_indexing_is_idempotent_and_a_rebuild_equals_the_incremental_index(
    runtime: Runtime, tmp_path: Path
) -> None:
    service = _corpus(runtime)
    memory = service.memory
    incremental = memory.index.points()
    assert {p.payload["kind"] for p in incremental} == {"context", "brief"}
    for run_id in GOALS:
        memory.index_run(new_ref(runtime, run_id))
    assert memory.index.points() == incremental
    counts = memory.rebuild()
    assert counts == {"runs": 4, "artifacts": len(incremental), "policy_diffs": 0}
    assert memory.index.points() == incremental
    # A changed file replaces its old point (no stale versions remain).
    context = runtime.workspace / ".autonomous_runs/shop/runs/research/garden/handoff/context.md"
    context.write_text("replaced", encoding="utf-8")
    memory.index_run(new_ref(runtime, "garden"))
    after = memory.index.points()
    assert len(after) == len(incremental)
    assert after != incremental
    # Scores too: a replaced version no longer counts in the IDF.
    fresh = MemoryService(runtime, EmbeddedIndex(tmp_path / "fresh"))
    fresh.rebuild()
    for text in ("tulips roses spring", "replaced paper"):
        assert _ranking(fresh, text) == _ranking(memory, text)
    fresh.close()
    memory.rebuild()
    assert memory.index.points() == after


def new_ref(rt: Runtime, run_id: str) -> RunRef:
    return RunService(rt).get(run_id).ref


@pytest.mark.postgres
def test_the_same_corpus_ranks_the_same_on_sqlite_and_postgresql(
    two_workspaces: tuple[Runtime, Runtime],
) -> None:
    lite, pg = (_corpus(rt).memory for rt in two_workspaces)
    for text, project in (
        ("tulips roses spring", None),
        ("paper trading orders fills", None),
        ("spring", "shop"),
    ):
        assert _ranking(lite, text, project) == _ranking(pg, text, project)
        assert _ranking(lite, text, project)
    assert lite.index.points() == pg.index.points()


# qdrant-client's in-process mode ignores payload indexes, and says so.
@pytest.mark.filterwarnings("ignore:Payload indexes have no effect:UserWarning")
def test_the_server_engine_ranks_like_the_embedded_one(runtime: Runtime) -> None:
    """The server path through qdrant-client (its in-process mode stands in for the
    server, which tests cannot run): the same points and the same ranking."""
    embedded = _corpus(runtime).memory
    server = MemoryService(runtime, ServerIndex(QdrantClient(location=":memory:")))
    assert server.rebuild() == {
        "runs": 4,
        "artifacts": len(embedded.index.points()),
        "policy_diffs": 0,
    }
    assert server.index.points() == embedded.index.points()
    for text in ("tulips roses spring", "paper orders"):
        mine = [(h.run_id, h.path) for h in embedded.search(text, limit=20)]
        theirs = [(h.run_id, h.path) for h in server.search(text, limit=20)]
        assert mine == theirs
    server.close()


def test_the_url_setting_selects_the_server_and_an_unreachable_one_is_unavailable(
    workspace: Path, database_url: str
) -> None:
    rt = build_runtime(make_settings(workspace, database_url))
    assert isinstance(open_index(rt), EmbeddedIndex)
    rt.close()
    url = f"http://127.0.0.1:{free_port()}"
    rt = build_runtime(make_settings(workspace, database_url, qdrant_url=url))
    try:
        memory = MemoryService(rt)
        assert isinstance(memory.index, ServerIndex)
        with pytest.raises(UnavailableError) as down:
            memory.search("tulips")
        assert down.value.code == "memory_unavailable"
        memory.close()
    finally:
        rt.close()


def test_a_held_embedded_index_waits_then_reports_unavailable(tmp_path: Path) -> None:
    index = EmbeddedIndex(tmp_path / "memory", wait_seconds=0.3)
    index.replace_run("p/f/r", [])
    with index.shard():
        blocked = EmbeddedIndex(tmp_path / "memory", wait_seconds=0.3)
        with pytest.raises(UnavailableError) as busy:
            blocked.points()
    assert busy.value.code == "memory_unavailable"
    assert index.points() == []


def test_cli_search_and_rebuild(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        invoke_cli(["runs", "new", "--project", "demo", "--family", "f", "--run-id", "r1"], capsys)[
            0
        ]
        == 0
    )
    assert invoke_cli(["handoff", "context", "r1", "--goal", "tulip listing"], capsys)[0] == 0
    code, out, _ = invoke_cli(["memory", "search", "tulip", "--json"], capsys)
    assert code == 0
    (hit,) = json.loads(out)
    assert (hit["run_id"], hit["path"], hit["rank"]) == ("r1", "handoff/context.md", 1)
    code, out, _ = invoke_cli(["memory", "rebuild", "--json"], capsys)
    assert code == 0
    assert json.loads(out) == {"runs": 1, "artifacts": 1, "policy_diffs": 0}
    code, out, _ = invoke_cli(["memory", "search", "tulip", "--project", "other"], capsys)
    assert code == 0
    assert "no matches" in out
    assert invoke_cli(["memory", "search", "the"], capsys)[0] == 2
