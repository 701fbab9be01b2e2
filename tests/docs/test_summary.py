"""README summary block: generated from the ledgers only; stale and hand-edited blocks caught."""

from __future__ import annotations

from pathlib import Path

import pytest
from docs_support import make_repo, minimal_registry, run_cli

from autopack.governance.registry import SUMMARY_END, SUMMARY_START
from autopack.governance.summary import fingerprint

README = f"# Sample\n\nIntro.\n\n{SUMMARY_START}\n{SUMMARY_END}\n\nOutro.\n"
DECISIONS = """# Decisions

<!-- LEDGER_INDEX_START -->
| ID | Date | Title |
| --- | --- | --- |
| DEC-001 | 2026-01-02 | Use SQLite |
| DEC-002 | 2026-03-04 | Use PostgreSQL at scale |
<!-- LEDGER_INDEX_END -->

## DEC-001: Use SQLite

Text.

## DEC-002: Use PostgreSQL at scale

Text.
"""
DEBUG = """# Debug

<!-- LEDGER_INDEX_START -->
| ID | Date | Title | Status |
| --- | --- | --- | --- |
| DBG-001 | 2026-02-01 | Slow parse | open |
<!-- LEDGER_INDEX_END -->

## DBG-001: Slow parse
"""
EXPECTED_BODY = """
Last ledger entry: **2026-03-04**.

| Ledger | Entries | Latest |
| --- | --- | --- |
| [Debug](docs/DEBUG.md) | 1 (open: 1) | DBG-001 (2026-02-01): Slow parse |
| [Decisions](docs/DECISIONS.md) | 2 | DEC-002 (2026-03-04): Use PostgreSQL at scale |

Decisions:

- DEC-001: Use SQLite
- DEC-002: Use PostgreSQL at scale
"""


def _repo(tmp_path: Path, decisions: str = DECISIONS, readme: str = README) -> Path:
    ledgers = [
        {"path": "docs/DEBUG.md", "id_prefix": "DBG", "title": "Debug"},
        {
            "path": "docs/DECISIONS.md",
            "id_prefix": "DEC",
            "title": "Decisions",
            "list_in_summary": True,
        },
    ]
    reg = minimal_registry(docs={"living": ["README.md"], "ledgers": ledgers})
    files = {"README.md": readme, "docs/DECISIONS.md": decisions, "docs/DEBUG.md": DEBUG}
    return make_repo(tmp_path, files, reg)


def _summary(capsys: pytest.CaptureFixture[str], root: Path, *flags: str) -> tuple[int, str]:
    code, out, _ = run_cli(capsys, "docs", "summary", "--root", str(root), *flags)
    return code, out


def test_execute_writes_the_expected_block_and_check_then_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _repo(tmp_path)
    assert _summary(capsys, root, "--check")[0] == 1
    code, out = _summary(capsys, root, "--execute")
    assert (code, out.strip()) == (0, "summary: rewrote the block in README.md (was stale)")
    text = (root / "README.md").read_text(encoding="utf-8")
    body = EXPECTED_BODY.split("\n")
    head = (
        "<!-- Generated from the ledgers by `refresh --execute`; edit the ledgers, not this "
        f"block. fingerprint=sha256:{fingerprint(body)} -->"
    )
    block = "\n".join([SUMMARY_START, head, *body, SUMMARY_END])
    assert text == f"# Sample\n\nIntro.\n\n{block}\n\nOutro.\n"
    assert _summary(capsys, root, "--check") == (0, "summary: ok (entries 3, ledgers 2)\n")
    # Deterministic: running again changes nothing, byte for byte.
    assert _summary(capsys, root, "--execute")[0] == 0
    assert (root / "README.md").read_text(encoding="utf-8") == text


def test_new_ledger_entry_makes_the_block_stale(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _repo(tmp_path)
    _summary(capsys, root, "--execute")
    ledger = root / "docs" / "DECISIONS.md"
    text = ledger.read_text(encoding="utf-8").replace(
        "<!-- LEDGER_INDEX_END -->",
        "| DEC-003 | 2026-04-05 | Add Redis |\n<!-- LEDGER_INDEX_END -->",
    )
    ledger.write_text(text + "\n## DEC-003: Add Redis\n", encoding="utf-8")
    code, out = _summary(capsys, root, "--check")
    assert code == 1
    assert "+- DEC-003: Add Redis" in out
    assert "-Last ledger entry: **2026-03-04**." in out
    assert "SUMMARY-STALE summary block is stale" in out
    assert _summary(capsys, root, "--execute")[0] == 0
    assert _summary(capsys, root, "--check")[0] == 0


def test_hand_edit_is_detected_and_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _repo(tmp_path)
    _summary(capsys, root, "--execute")
    readme = root / "README.md"
    edited = readme.read_text(encoding="utf-8").replace("Use SQLite", "Use SQLite forever")
    readme.write_text(edited, encoding="utf-8")
    code, out = _summary(capsys, root, "--check")
    assert code == 1
    assert "-- DEC-001: Use SQLite forever" in out
    assert "README.md:5:1: SUMMARY-HAND-EDITED summary block was edited by hand" in out
    code, out = _summary(capsys, root, "--execute")
    assert code == 1
    assert readme.read_text(encoding="utf-8") == edited  # refused: nothing written
    code, out = _summary(capsys, root, "--execute", "--force")
    assert (code, "was hand-edited" in out) == (0, True)
    assert _summary(capsys, root, "--check")[0] == 0


def test_crlf_readme_keeps_its_line_endings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _repo(tmp_path, readme=README.replace("\n", "\r\n"))
    assert _summary(capsys, root, "--execute")[0] == 0
    raw = (root / "README.md").read_bytes()
    assert raw.count(b"\r\n") == raw.count(b"\n")
    assert _summary(capsys, root, "--check")[0] == 0


@pytest.mark.parametrize(
    ("old", "new", "finding"),
    [
        (
            "| DEC-002 | 2026-03-04 |",
            "| DEC-003 | 2026-03-04 |",
            "LEDGER-ORDER DEC-003 out of sequence",
        ),
        (
            "| DEC-002 | 2026-03-04 |",
            "| DEC-001 | 2026-03-04 |",
            "LEDGER-DUPLICATE DEC-001 appears twice",
        ),
        (
            "| DEC-002 | 2026-03-04 |",
            "| DEC-002 | 2025-12-31 |",
            "LEDGER-DATE DEC-002 is dated before DEC-001",
        ),
        (
            "| DEC-002 | 2026-03-04 |",
            "| DEC-002 | 4 March |",
            "LEDGER-ROW date '4 March' is not YYYY-MM-DD",
        ),
        (
            "## DEC-002: Use PostgreSQL at scale",
            "## DEC-002: Use Postgres",
            "LEDGER-MISMATCH DEC-002: heading title",
        ),
        (
            "## DEC-002: Use PostgreSQL at scale",
            "## Later",
            "LEDGER-MISMATCH DEC-002 has no '## DEC-002: ...' section",
        ),
        ("<!-- LEDGER_INDEX_END -->", "", "LEDGER-INDEX needs exactly one index block"),
    ],
)
def test_malformed_ledgers_are_findings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], old: str, new: str, finding: str
) -> None:
    root = _repo(tmp_path, decisions=DECISIONS.replace(old, new))
    code, out = _summary(capsys, root, "--check")
    assert code == 1
    assert finding in out


def test_missing_markers_are_a_finding(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _repo(tmp_path, readme="# Sample\n")
    code, out = _summary(capsys, root, "--execute")
    assert code == 1
    assert "README.md:1:1: SUMMARY-MARKERS" in out


def test_check_and_execute_together_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(
        capsys, "docs", "summary", "--check", "--execute", "--root", str(tmp_path)
    )
    assert (code, err.strip()) == (2, "error: use --check or --execute, not both")
