"""Governance on another project's repository: a ten-line TOML registry named with
--registry, no git, globs, optional sections, JSON and SARIF output, docs init."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from docs_support import REPO, run_cli
from test_run_layout_contract import LEGACY_FORMS, NON_RUN_PATHS, VALID_FORMS

from autopack.governance.gitignore import is_ignored, parse_rules
from autopack.governance.registry import SCHEMA_FILE, registry_schema
from autopack.governance.repo import walk_files

FINDINGS_SCHEMA = json.loads(
    (SCHEMA_FILE.parent / "findings.schema.json").read_text(encoding="utf-8")
)
# The parts of the SARIF 2.1.0 schema (OASIS) that code-scanning views read; the
# full schema is not available offline, so this subset is vendored here.
SARIF_SUBSET: dict[str, Any] = {
    "type": "object",
    "required": ["version", "runs"],
    "properties": {
        "version": {"const": "2.1.0"},
        "$schema": {"type": "string"},
        "runs": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["tool", "results"],
                "properties": {
                    "tool": {
                        "type": "object",
                        "required": ["driver"],
                        "properties": {
                            "driver": {
                                "type": "object",
                                "required": ["name"],
                                "properties": {
                                    "name": {"type": "string"},
                                    "rules": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "required": ["id"],
                                            "properties": {"id": {"type": "string"}},
                                        },
                                    },
                                },
                            }
                        },
                    },
                    "results": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["message", "ruleId", "locations"],
                            "properties": {
                                "ruleId": {"type": "string"},
                                "ruleIndex": {"type": "integer", "minimum": 0},
                                "level": {"enum": ["none", "note", "warning", "error"]},
                                "message": {
                                    "type": "object",
                                    "required": ["text"],
                                    "properties": {"text": {"type": "string"}},
                                },
                                "locations": {
                                    "type": "array",
                                    "minItems": 1,
                                    "items": {
                                        "type": "object",
                                        "required": ["physicalLocation"],
                                        "properties": {
                                            "physicalLocation": {
                                                "type": "object",
                                                "required": ["artifactLocation", "region"],
                                                "properties": {
                                                    "artifactLocation": {
                                                        "type": "object",
                                                        "required": ["uri"],
                                                        "properties": {"uri": {"type": "string"}},
                                                    },
                                                    "region": {
                                                        "type": "object",
                                                        "required": ["startLine"],
                                                        "properties": {
                                                            "startLine": {
                                                                "type": "integer",
                                                                "minimum": 1,
                                                            },
                                                            "startColumn": {
                                                                "type": "integer",
                                                                "minimum": 1,
                                                            },
                                                        },
                                                    },
                                                },
                                            }
                                        },
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    },
}
TEN_LINE_REGISTRY = """schema_version = 1
project = 'acme'
rule_sets = ['machine-paths', 'run-layout']

[docs]
living = ['**/*.md']
exclude = ['vendor/**']

[links]
include = ['docs/**']
"""


def _foreign(tmp_path: Path) -> Path:
    """Another project's tree: its own docs, a PROJECT_INDEX.json of another format, no git."""
    root = tmp_path / "acme"
    guide = ["# Guide", ""]
    guide += [f"Legacy {i}: `{form}`" for i, form in enumerate(LEGACY_FORMS)]
    guide += [""]
    guide += [f"Fine {i}: `{form}`" for i, form in enumerate(VALID_FORMS + NON_RUN_PATHS)]
    guide += ["", "```bash", "tail .autonomous_runs/acme/runs/nightly-build/run.log", "```", ""]
    files = {
        "README.md": "# Acme\n\nSee [the guide](docs/guide.md#guide).\n",
        "docs/guide.md": "\n".join(guide),
        "docs/PROJECT_INDEX.json": json.dumps({"pages": ["guide"], "version": "3"}),
        "vendor/lib/README.md": "Old: `.autonomous_runs/<run_id>/` [x](missing.md)\n",
        "build/out.md": "Ignored: `.autonomous_runs/<run_id>/`\n",
        ".gitignore": "build/\n",
        "governance.toml": TEN_LINE_REGISTRY,
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    return root


def test_a_foreign_repository_is_checked_with_a_ten_line_registry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _foreign(tmp_path)
    assert len(TEN_LINE_REGISTRY.strip().splitlines()) <= 10
    assert not (root / ".git").exists()
    code, out, err = run_cli(
        capsys,
        "docs",
        "drift",
        "--root",
        str(root),
        "--format",
        "json",
        "--registry",
        "governance.toml",
    )
    assert (code, err) == (1, "")
    report = json.loads(out)
    jsonschema.validate(report, FINDINGS_SCHEMA)
    lines = (root / "docs" / "guide.md").read_text(encoding="utf-8").splitlines()
    flagged = {f["line"] for f in report["findings"]}
    assert {f["file"] for f in report["findings"]} == {"docs/guide.md"}
    for number, line in enumerate(lines, start=1):
        if line.startswith("Legacy ") or ".autonomous_runs/acme/runs/nightly-build" in line:
            assert number in flagged, line
        elif line.startswith("Fine "):
            assert number not in flagged, line
    first = next(
        f
        for f in report["findings"]
        if f["line"] == lines.index("Legacy 0: `" + LEGACY_FORMS[0] + "`") + 1
    )
    assert first["column"] == len("Legacy 0: `") + 1
    assert LEGACY_FORMS[0].startswith(first["matched"].rstrip("/"))
    assert first["fix"]
    assert first["message"]

    code, out, _ = run_cli(
        capsys,
        "docs",
        "drift",
        "--root",
        str(root),
        "--registry",
        "governance.toml",
        "--format",
        "sarif",
        "--verbose",
    )
    assert code == 1
    sarif = json.loads(out)
    jsonschema.validate(sarif, SARIF_SUBSET)
    results = sarif["runs"][0]["results"]
    assert len(results) == len(report["findings"])
    rules = sarif["runs"][0]["tool"]["driver"]["rules"]
    assert all("fullDescription" in rule for rule in rules)

    code, out, _ = run_cli(
        capsys,
        "docs",
        "links",
        "--root",
        str(root),
        "--registry",
        "governance.toml",
        "--format",
        "json",
    )
    assert code == 0, out
    links = json.loads(out)
    jsonschema.validate(links, FINDINGS_SCHEMA)
    assert links["stats"]["files"] == 1  # docs/ only: README and vendor/ are out of scope


def test_the_default_registry_of_another_format_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _foreign(tmp_path)
    code, out, err = run_cli(capsys, "docs", "drift", "--root", str(root))
    assert (code, out) == (2, "")
    assert err.startswith("error: docs/PROJECT_INDEX.json: ")
    assert "--registry" in err


def test_missing_sections_are_skipped_unless_asked_for(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _foreign(tmp_path)
    reg = ("--root", str(root), "--registry", "governance.toml")
    for command in (("workspace", "verify"), ("docs", "summary")):
        code, out, _ = run_cli(capsys, *command, *reg)
        assert code == 0
        assert "skipped (no " in out
    code, out, _ = run_cli(capsys, "workspace", "verify", *reg, "--format", "json")
    assert json.loads(out)["skipped"] == "no workspace section in governance.toml"
    code, out, err = run_cli(capsys, "docs", "summary", "--check", *reg)
    assert (code, out) == (2, "")
    assert "no summary section" in err


def test_verbose_adds_the_reason_and_a_bad_format_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _foreign(tmp_path)
    reg = ("--root", str(root), "--registry", "governance.toml")
    _, plain, _ = run_cli(capsys, "docs", "drift", *reg)
    _, verbose, _ = run_cli(capsys, "docs", "drift", *reg, "--verbose")
    assert "why: " not in plain
    assert "    why: the family segment is part of every run path" in verbose
    code, out, err = run_cli(capsys, "docs", "drift", *reg, "--format", "xml")
    assert (code, out) == (2, "")
    assert "--format 'xml'" in err


def test_the_published_schema_is_the_models_and_validates_both_formats(tmp_path: Path) -> None:
    published = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert published == json.loads(json.dumps(registry_schema()))
    jsonschema.Draft202012Validator.check_schema(published)
    ours = json.loads((REPO / "docs" / "PROJECT_INDEX.json").read_text(encoding="utf-8"))
    jsonschema.validate(ours, published)
    jsonschema.validate(tomllib.loads(TEN_LINE_REGISTRY), published)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"schema_version": 1, "docs": {"living": "README.md"}}, published)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"pages": ["guide"], "version": "3"}, published)


def test_init_writes_a_commented_registry_that_works(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _foreign(tmp_path)
    (root / "CHANGELOG.md").write_text("# Changelog\n\n- `.autonomous_runs/<run_id>/`\n", "utf-8")
    (root / "docs" / "PROJECT_INDEX.json").unlink()
    code, out, _ = run_cli(capsys, "docs", "init", "--root", str(root))
    assert code == 0
    assert "wrote docs/PROJECT_INDEX.toml" in out
    text = (root / "docs" / "PROJECT_INDEX.toml").read_text(encoding="utf-8")
    assert text.startswith("# ")
    data = tomllib.loads(text)
    jsonschema.validate(data, json.loads(SCHEMA_FILE.read_text(encoding="utf-8")))
    assert data["docs"]["ledgers"] == [
        {"path": "CHANGELOG.md", "id_prefix": "CHG", "title": "Changelog"}
    ]
    assert data["rule_sets"] == ["machine-paths", "run-layout"]
    # The default lookup finds the TOML registry; the ledger's history is exempt.
    code, out, _ = run_cli(capsys, "docs", "drift", "--root", str(root))
    assert code == 1
    assert "CHANGELOG.md" not in out
    assert "vendor/lib/README.md:1:" in out
    assert run_cli(capsys, "docs", "init", "--root", str(root))[0] == 2
    assert run_cli(capsys, "docs", "init", "--root", str(root), "--force")[0] == 0


@pytest.mark.parametrize(
    ("rules", "path", "is_dir", "ignored"),
    [
        ("build/\n", "build", True, True),
        ("build/\n", "build", False, False),
        ("*.log\n", "a/b/x.log", False, True),
        ("*.log\n!keep.log\n", "a/keep.log", False, False),
        ("/top.md\n", "top.md", False, True),
        ("/top.md\n", "sub/top.md", False, False),
        ("docs/**/gen\n", "docs/a/b/gen", True, True),
        ("# comment\n\n\\#hash\n", "#hash", False, True),
        ("file[0-9].md\n", "file7.md", False, True),
    ],
)
def test_gitignore_rules(rules: str, path: str, is_dir: bool, ignored: bool) -> None:
    assert is_ignored(parse_rules(rules, ""), path, is_dir) is ignored


def test_a_plain_directory_walk_honours_nested_gitignores(tmp_path: Path) -> None:
    for rel, text in {
        ".gitignore": "*.tmp\nout/\n",
        "a/.gitignore": "!keep.tmp\nlocal.md\n",
        "a/keep.tmp": "",
        "a/drop.tmp": "",
        "a/local.md": "",
        "b/local.md": "",
        "out/x.md": "",
        ".git/HEAD": "",
    }.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text, encoding="utf-8")
    assert walk_files(tmp_path) == [".gitignore", "a/.gitignore", "a/keep.tmp", "b/local.md"]


def _tiny(tmp_path: Path, registry: str, name: str = "reg.toml") -> Path:
    root = tmp_path / "tiny"
    (root / "docs").mkdir(parents=True)
    (root / "README.md").write_text("# Tiny\n\nSee [docs](docs/a.md).\n", encoding="utf-8")
    (root / "docs" / "a.md").write_text("# A\n", encoding="utf-8")
    (root / name).write_text(registry, encoding="utf-8")
    return root


@pytest.mark.parametrize(
    ("registry", "message"),
    [
        ("schema_version = 1\n[docs\n", "reg.toml: invalid TOML"),
        ("schema_version = 1\n[docs]\nliving = 'README.md'\n", "reg.toml: docs.living"),
        ("schema_version = 1\nrule_sets = ['no-such-set']\n", "reg.toml: rule_sets.0"),
    ],
)
def test_a_bad_toml_registry_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], registry: str, message: str
) -> None:
    root = _tiny(tmp_path, registry)
    code, out, err = run_cli(capsys, "docs", "drift", "--root", str(root), "--registry", "reg.toml")
    assert (code, out) == (2, "")
    assert err.startswith(f"error: {message}"), err


def test_a_missing_registry_file_names_the_given_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _tiny(tmp_path, "schema_version = 1\n")
    code, _, err = run_cli(capsys, "docs", "links", "--root", str(root), "--registry", "nope.toml")
    assert code == 2
    assert err.strip() == f"error: nope.toml: registry not found under {root}"


def test_stale_scope_globs_and_duplicated_builtin_rules_are_findings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    registry = """schema_version = 1
rule_sets = ['machine-paths']
[docs]
living = ['**/*.md', 'guides/**']
exclude = ['vendor/**']
[links]
include = ['docs/**', 'site/**']
[[drift_rules]]
id = 'ABS-PATH'
pattern = 'x'
scope = 'any'
message = 'm'
fix = 'f'
reason = 'r'
"""
    root = _tiny(tmp_path, registry)
    reg = ("--root", str(root), "--registry", "reg.toml")
    code, out, _ = run_cli(capsys, "docs", "drift", *reg)
    assert code == 1
    assert "RATCHET-STALE docs.living: 'guides/**' matches nothing" in out
    assert "RATCHET-STALE docs.exclude: 'vendor/**' matches nothing" in out
    assert "reg.toml:9:6: RULE-DUPLICATE drift rule ABS-PATH is also in a rule set" in out
    code, out, _ = run_cli(capsys, "docs", "links", *reg)
    assert code == 1
    assert "RATCHET-STALE links.include: 'site/**' matches nothing" in out
    assert "links: 1 finding(s) (external_skipped 0, files 1, links 0)" in out


def test_init_refuses_a_json_name_and_a_missing_root(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(capsys, "docs", "init", "--root", str(tmp_path), "--registry", "x.json")
    assert code == 2
    assert "init writes TOML" in err
    code, _, err = run_cli(capsys, "docs", "init", "--root", str(tmp_path / "nope"))
    assert code == 2
    assert "no such directory" in err
