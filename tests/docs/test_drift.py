"""Drift rules are data: scopes, living docs only, ratchet allowlists, classification."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from docs_support import make_repo, minimal_registry, run_cli

RULE: dict[str, Any] = {
    "id": "NO-FOO",
    "pattern": r"\bfoo\b",
    "scope": "prose",
    "message": "foo is gone",
    "fix": "say bar",
    "reason": "renamed",
}
README = "# Sample\n\nfoo in prose\n\n```bash\nfoo in code\n```\n"


def _repo(tmp_path: Path, rule: dict[str, Any], **files: str) -> Path:
    ledger = {"path": "docs/LOG.md", "id_prefix": "LOG", "title": "Log"}
    reg = minimal_registry(
        drift_rules=[rule],
        docs={"living": ["README.md"], "ledgers": [ledger]},
    )
    log = "# Log\n\nfoo is history\n"
    return make_repo(tmp_path, {"README.md": README, "docs/LOG.md": log, **files}, reg)


@pytest.mark.parametrize(
    ("scope", "lines"), [("prose", ["3"]), ("code", ["6"]), ("any", ["3", "6"])]
)
def test_scope_decides_prose_or_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], scope: str, lines: list[str]
) -> None:
    root = _repo(tmp_path, {**RULE, "scope": scope})
    code, out, _ = run_cli(capsys, "docs", "drift", "--root", str(root))
    assert code == 1
    found = [line.split(":")[1] for line in out.splitlines() if "NO-FOO" in line]
    assert found == lines
    assert f"README.md:{lines[0]}:1: NO-FOO foo is gone [foo] (fix: say bar)" in out
    assert "docs/LOG.md" not in out  # ledgers are exempt


def test_clean_docs_pass(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _repo(tmp_path, {**RULE, "pattern": r"\bbaz\b"})
    code, out, _ = run_cli(capsys, "docs", "drift", "--root", str(root))
    assert (code, out.strip()) == (0, "drift: ok (lines 7, living_docs 1, rules 1)")


def test_allow_entry_exempts_exactly_that_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    allow = [{"path": "README.md", "contains": "foo in prose"}]
    root = _repo(tmp_path, {**RULE, "scope": "any", "allow": allow})
    code, out, _ = run_cli(capsys, "docs", "drift", "--root", str(root))
    assert code == 1
    assert "README.md:6:1: NO-FOO" in out
    assert "README.md:3:" not in out


def test_allow_entry_that_matches_nothing_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    allow = [
        {"path": "README.md", "contains": "foo in prose"},
        {"path": "README.md", "contains": "gone"},
    ]
    root = _repo(tmp_path, {**RULE, "allow": allow})
    code, out, _ = run_cli(capsys, "docs", "drift", "--root", str(root))
    assert code == 1
    assert "RATCHET-STALE NO-FOO.allow: 'gone' matches nothing" in out


def test_unsorted_allowlist_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    allow = [
        {"path": "README.md", "contains": "foo in prose"},
        {"path": "README.md", "contains": "foo in code"},
    ]
    root = _repo(tmp_path, {**RULE, "scope": "any", "allow": allow})
    code, out, _ = run_cli(capsys, "docs", "drift", "--root", str(root))
    assert code == 1
    assert "RATCHET-UNSORTED NO-FOO.allow is not sorted" in out


def test_unclassified_and_missing_docs_fail(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _repo(tmp_path, {**RULE, "pattern": "nothing"}, **{"docs/NEW.md": "# New\n"})
    (root / "docs" / "LOG.md").unlink()
    code, out, _ = run_cli(capsys, "docs", "drift", "--root", str(root))
    assert code == 1
    assert "docs/NEW.md:1:1: DOCS-UNCLASSIFIED" in out
    assert "DOCS-MISSING docs/LOG.md is in the registry but not in the repository" in out


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"pattern": "("}, "drift_rules.0.pattern: Value error, not a Python regex"),
        ({"id": "lower"}, "drift_rules.0.id: Value error, use upper-case words"),
        ({"scope": "everywhere"}, "drift_rules.0.scope: Input should be"),
    ],
)
def test_bad_rule_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: dict[str, str], message: str
) -> None:
    root = _repo(tmp_path, {**RULE, **change})
    code, out, err = run_cli(capsys, "docs", "drift", "--root", str(root))
    assert code == 2
    assert out == ""
    assert err.startswith(f"error: docs/PROJECT_INDEX.json: {message}")
    assert len(err.strip().splitlines()) == 1


def test_missing_registry_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "docs", "drift", "--root", str(tmp_path))
    assert code == 2
    assert err.strip() == f"error: docs/PROJECT_INDEX.json: registry not found under {tmp_path}"
