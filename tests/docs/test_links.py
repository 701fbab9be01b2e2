"""Offline link checker: files, directories, anchors with GitHub slugs, ratchets."""

from __future__ import annotations

from pathlib import Path

import pytest
from docs_support import make_repo, minimal_registry, run_cli

GUIDE = """# Guide

## Setup

## Setup

## Use it: `autopack` now!

<a name="legacy-anchor"></a>
"""


def _check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], readme: str, **reg: object
) -> tuple[int, str]:
    registry = minimal_registry(
        docs={"living": ["README.md", "docs/GUIDE.md"], "ledgers": []}, **reg
    )
    files = {"README.md": readme, "docs/GUIDE.md": GUIDE, "docs/img/logo.png": "png"}
    root = make_repo(tmp_path, files, registry)
    code, out, _ = run_cli(capsys, "docs", "links", "--root", str(root))
    return code, out


@pytest.mark.parametrize(
    "link",
    [
        "docs/GUIDE.md",
        "docs/GUIDE.md#setup",
        "docs/GUIDE.md#setup-1",
        "docs/GUIDE.md#use-it-autopack-now",
        "docs/GUIDE.md#legacy-anchor",
        "./docs/../docs/GUIDE.md",
        "/docs/GUIDE.md",
        "docs/",
        "docs/img/logo.png",
        "#readme",
        "#top",
        "https://example.invalid/never-fetched",
        "mailto:someone@example.invalid",
    ],
)
def test_valid_links_pass(tmp_path: Path, capsys: pytest.CaptureFixture[str], link: str) -> None:
    code, out = _check(tmp_path, capsys, f"# Readme\n\nSee [it]({link}).\n")
    assert code == 0, out


@pytest.mark.parametrize(
    ("link", "rule", "text"),
    [
        ("docs/MISSING.md", "LINK-FILE", "docs/MISSING.md does not exist"),
        ("docs/GUIDE.md#setup-2", "LINK-ANCHOR", "no heading or id #setup-2 in docs/GUIDE.md"),
        ("docs/GUIDE.md#Setup", "LINK-ANCHOR", "(fix: use #setup (anchors are lower-case))"),
        ("#nowhere", "LINK-ANCHOR", "no heading or id #nowhere in README.md"),
        ("../outside.md", "LINK-OUTSIDE", "leaves the repository"),
        (".env", "LINK-FILE", ".env does not exist"),
    ],
)
def test_broken_links_fail_with_line_and_rule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], link: str, rule: str, text: str
) -> None:
    code, out = _check(tmp_path, capsys, f"# Readme\n\nline three\nSee [it]({link}).\n")
    assert code == 1
    finding = next(line for line in out.splitlines() if line.startswith("README.md:4:"))
    assert f" {rule} " in finding
    assert text in finding


def test_links_in_code_are_not_checked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    readme = "# Readme\n\n```md\n[x](missing.md)\n```\n\n`[y](missing.md)`\n"
    code, out = _check(tmp_path, capsys, readme)
    assert code == 0, out


def test_ignore_entry_accepts_one_broken_link_and_must_stay_used(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    readme = "# Readme\n\n[a](gone.md)\n"
    links = {"exclude": [], "ignore": ["README.md -> gone.md", "README.md -> older.md"]}
    code, out = _check(tmp_path, capsys, readme, links=links)
    assert code == 1
    assert "LINK-FILE" not in out
    assert "RATCHET-STALE links.ignore: 'README.md -> older.md' matches nothing" in out


def test_excluded_files_are_skipped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    registry = minimal_registry(
        docs={"living": ["README.md"], "ledgers": [], "unclassified_allow": ["vendor/**"]},
        links={"exclude": ["vendor/**"], "ignore": []},
    )
    files = {"README.md": "# R\n", "vendor/x.md": "[broken](nope.md)\n"}
    root = make_repo(tmp_path, files, registry)
    code, out, _ = run_cli(capsys, "docs", "links", "--root", str(root))
    assert code == 0, out
    assert "files 1" in out


def test_ignored_files_do_not_count_as_targets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = {"README.md": "# R\n\n[local](local.md)\n", ".gitignore": "local.md\n", "local.md": "x"}
    reg = minimal_registry(workspace={"top_level": [".gitignore", "README.md", "docs/"]})
    root = make_repo(tmp_path, files, reg)
    code, out, _ = run_cli(capsys, "docs", "links", "--root", str(root))
    assert code == 1
    assert "README.md:3:9: LINK-FILE" in out
