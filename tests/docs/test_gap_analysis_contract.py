"""docs/IMPROVEMENTS_GAP_ANALYSIS.md: every capability has a status, and every cited test exists."""

from __future__ import annotations

from pathlib import Path

import pytest
from docs_support import REPO, read

from autopack.governance.contracts import GAP_STATUSES, GapItem, gap_items, missing_test_node

DOC = "docs/IMPROVEMENTS_GAP_ANALYSIS.md"
ITEMS = gap_items(read(DOC))


def test_rows_are_numbered_in_order_and_have_a_known_status() -> None:
    assert [item.id for item in ITEMS] == [f"GAP-{n:03d}" for n in range(1, len(ITEMS) + 1)]
    assert len(ITEMS) >= 30
    assert {item.status for item in ITEMS} <= set(GAP_STATUSES)


@pytest.mark.parametrize("item", ITEMS, ids=lambda item: item.id)
def test_evidence_matches_the_status_and_exists(item: GapItem) -> None:
    if item.status == "planned":
        assert item.evidence == (), f"{DOC}:{item.line}: a planned item cites no tests"
        return
    assert item.evidence, f"{DOC}:{item.line}: {item.status} needs at least one test"
    missing = [m for node in item.evidence if (m := missing_test_node(REPO, node)) is not None]
    assert not missing, f"{DOC}:{item.line}: " + "; ".join(missing)


@pytest.mark.parametrize(
    ("node", "problem"),
    [
        ("tests/docs/test_gap_analysis_contract.py", None),
        (
            "tests/docs/test_gap_analysis_contract.py::test_evidence_matches_the_status_and_exists[GAP-001]",
            None,
        ),
        ("tests/docs/nope.py", "no file tests/docs/nope.py"),
        ("tests/docs/test_gap_analysis_contract.py::test_nothing", "has no test_nothing"),
        ("src/autopack/settings.py", "must be a test file under tests/"),
    ],
)
def test_the_node_resolver(node: str, problem: str | None) -> None:
    result = missing_test_node(REPO, node)
    assert result == problem if problem is None else (result is not None and problem in result)


def test_class_methods_resolve(tmp_path: Path) -> None:
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "test_x.py").write_text(
        "class TestX:\n    def test_a(self) -> None: ...\n", encoding="utf-8"
    )
    assert missing_test_node(tmp_path, "tests/test_x.py::TestX::test_a") is None
    assert missing_test_node(tmp_path, "tests/test_x.py::TestX::test_b") is not None
    assert missing_test_node(tmp_path, "tests/test_x.py::test_a") is not None
