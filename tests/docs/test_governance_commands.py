"""The four commands pass on this repository, print ASCII only, and catch injected faults
in a temporary copy with the right exit code and message."""

from __future__ import annotations

from pathlib import Path

import pytest
from docs_support import REPO, copy_repo, load_json, run_cli, run_script, write_registry

from autopack.governance.registry import SUMMARY_START


@pytest.fixture(scope="module")
def copied(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One pristine copy; tests that change files take their own (see `repo`)."""
    return copy_repo(tmp_path_factory.mktemp("pristine"))


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return copy_repo(tmp_path)


COMMANDS = {
    "drift": ("docs", "drift"),
    "links": ("docs", "links"),
    "summary": ("docs", "summary", "--check"),
    "workspace": ("workspace", "verify"),
}


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_command_passes_on_this_repository(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # The scripts themselves run as processes, with an ASCII check, in
    # test_project_index_contract.py::test_every_entrypoint_runs.
    code, out, err = run_cli(capsys, *COMMANDS[name], "--root", str(REPO))
    assert (code, err) == (0, ""), out
    assert out.strip().splitlines()[-1].startswith(f"{name}: ok")


def test_a_later_root_overrides_the_scripts_default(copied: Path) -> None:
    readme = copied / "README.md"
    readme.write_text(
        readme.read_text(encoding="utf-8") + "\n[broken](nowhere.md)\n", encoding="utf-8"
    )
    proc = run_script("scripts/check_doc_links.py", "--root", str(copied))
    assert proc.returncode == 1
    assert b"README.md:" in proc.stdout
    assert b"LINK-FILE" in proc.stdout


def test_a_root_that_is_not_a_directory_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(capsys, "workspace", "verify", "--root", str(tmp_path / "nope"))
    assert (code, out) == (2, "")
    assert err.strip() == f"error: --root {tmp_path / 'nope'}: no such directory"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_missing_registry_exits_2_with_one_line(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(capsys, *COMMANDS[name], "--root", str(tmp_path))
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        f"error: docs/PROJECT_INDEX.json: registry not found under {tmp_path}"
    ]


def test_non_ascii_in_findings_is_escaped(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "docs" / "NOTES.md").write_text(
        "# Caf\u00e9\n\n[x](#caf\u00e9-nope)\n", encoding="utf-8"
    )
    code, out, _ = run_cli(capsys, "docs", "links", "--root", str(repo))
    assert code == 1
    out.encode("ascii")
    assert "docs/NOTES.md:3:5: LINK-ANCHOR" in out
    assert "#caf\\xe9-nope" in out


def test_injected_legacy_run_path_is_caught(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    guide = repo / "docs" / "ARCHITECTURE.md"
    text = guide.read_text(encoding="utf-8")
    guide.write_text(
        text + "\nOld runs lived in `.autonomous_runs/<project>/runs/<run_id>/`.\n",
        encoding="utf-8",
    )
    line = text.count("\n") + 2
    code, out, _ = run_cli(capsys, "docs", "drift", "--root", str(repo))
    assert code == 1
    assert (
        f"docs/ARCHITECTURE.md:{line}:20: RUN-LAYOUT-NO-FAMILY run path without the <family>/ "
        "segment [.autonomous_runs/<project>/runs/<run_id>] "
        "(fix: use .autonomous_runs/<project>/runs/<family>/<run_id>/)"
    ) in out
    assert out.strip().splitlines()[-1].startswith("drift: 1 finding(s)")


def test_legacy_path_in_a_ledger_is_history_not_drift(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = repo / "docs" / "DEBUG_LOG.md"
    ledger.write_text(
        ledger.read_text(encoding="utf-8") + "\nWas `.autonomous_runs/<run_id>/`.\n",
        encoding="utf-8",
    )
    assert run_cli(capsys, "docs", "drift", "--root", str(repo))[0] == 0


def test_injected_broken_anchor_is_caught(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    index = repo / "docs" / "INDEX.md"
    text = index.read_text(encoding="utf-8")
    index.write_text(
        text.replace("CONFIG_GUIDE.md)", "CONFIG_GUIDE.md#no-such-setting)", 1), encoding="utf-8"
    )
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "CONFIG_GUIDE.md)" in row)
    code, out, _ = run_cli(capsys, "docs", "links", "--root", str(repo))
    assert code == 1
    assert (
        f"docs/INDEX.md:{line}:19: LINK-ANCHOR link 'CONFIG_GUIDE.md#no-such-setting': "
        "no heading or id #no-such-setting in docs/CONFIG_GUIDE.md"
    ) in out


def test_injected_hand_edit_of_summary_is_caught(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    readme = repo / "README.md"
    text = readme.read_text(encoding="utf-8")
    edited = text.replace("| Ledger | Entries | Latest |", "| Ledger | Entries (edited) | Latest |")
    assert edited != text
    readme.write_text(edited, encoding="utf-8")
    line = text.splitlines().index(SUMMARY_START) + 1
    code, out, _ = run_cli(capsys, "docs", "summary", "--check", "--root", str(repo))
    assert code == 1
    assert f"README.md:{line}:1: SUMMARY-HAND-EDITED summary block was edited by hand" in out
    assert "-| Ledger | Entries (edited) | Latest |" in out
    assert run_cli(capsys, "docs", "summary", "--execute", "--root", str(repo))[0] == 1
    assert readme.read_text(encoding="utf-8") == edited


def test_injected_unknown_top_level_file_is_caught(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "notes.txt").write_text("scratch\n", encoding="utf-8")
    code, out, _ = run_cli(capsys, "workspace", "verify", "--root", str(repo))
    assert code == 1
    assert "notes.txt:1:1: WS-TOP-LEVEL unknown top-level entry 'notes.txt'" in out


def test_stale_top_level_entry_is_caught(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    reg = load_json(repo)
    reg["workspace"]["top_level"] = sorted([*reg["workspace"]["top_level"], "Caddyfile"])
    write_registry(repo, reg)
    code, out, _ = run_cli(capsys, "workspace", "verify", "--root", str(repo))
    assert code == 1
    assert "RATCHET-STALE workspace.top_level: 'Caddyfile' matches nothing" in out
