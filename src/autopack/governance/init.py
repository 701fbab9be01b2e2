"""``autopack docs init``: a minimal, commented TOML registry for a repository.

Living docs are every Markdown file by glob; ledgers (append-only history) are
found by file name; the drift rules are the built-in rule sets (machine paths
and Autopack's run layout) plus a commented example. TOML needs no double escaping of
regexes. The text is built here; the CLI writes it.
"""

from __future__ import annotations

import json
import re

from autopack.governance.markdown_files import is_markdown

# Basenames (upper case, without suffix) of history files -> their id prefix.
LEDGER_NAMES = {
    "ADR": "ADR",
    "ARCHITECTURE_DECISIONS": "DEC",
    "BUILD_HISTORY": "BUILD",
    "CHANGELOG": "CHG",
    "CHANGES": "CHG",
    "DEBUG_LOG": "DBG",
    "DECISIONS": "DEC",
    "HISTORY": "HIST",
    "NEWS": "NEWS",
    "RELEASE_NOTES": "REL",
}


def _title(stem: str) -> str:
    return stem.replace("_", " ").replace("-", " ").capitalize()


def detect_ledgers(files: list[str]) -> list[tuple[str, str, str]]:
    """(path, id prefix, title) of every Markdown file named like a ledger."""
    found = []
    for path in files:
        if not is_markdown(path):
            continue
        stem = path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        key = re.sub(r"[-\s]", "_", stem).upper()
        if key in LEDGER_NAMES:
            found.append((path, LEDGER_NAMES[key], _title(stem)))
    return sorted(found)


def _toml_string(value: str) -> str:
    """A TOML literal string (no escaping) when possible, else a basic string."""
    if "'" not in value and "\n" not in value:
        return f"'{value}'"
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def render_init(project: str, files: list[str], registry_path: str) -> str:
    ledgers = detect_ledgers(files)
    lines = [
        "# Autopack docs-governance registry. Every section is optional: a check",
        "# whose section is missing is skipped. Format and schema: `autopack docs",
        "# --help` and autopack/governance/schemas/registry.schema.json.",
        f"# Check with: autopack docs drift --registry {registry_path}",
        "schema_version = 1",
        f"project = {_toml_string(project)}",
        "# Built-in drift rules: machine paths (home directories) and Autopack's run layout.",
        "rule_sets = ['machine-paths', 'run-layout']",
        "",
        "[docs]",
        "# Living docs describe things as they are: drift rules apply. Paths or globs;",
        "# a glob selects Markdown files. Ledgers below are never living.",
        "living = ['**/*.md']",
        "# Globs taken out of the living docs, e.g. ['vendor/**'].",
        "exclude = []",
        "",
    ]
    if ledgers:
        lines.append("# Ledgers (append-only history, exempt from drift), found by file name.")
    else:
        lines.append("# No ledgers found by name (CHANGELOG.md, HISTORY.md, DECISIONS.md, ...).")
    for path, prefix, title in ledgers:
        lines += [
            "[[docs.ledgers]]",
            f"path = {_toml_string(path)}",
            f"id_prefix = {_toml_string(prefix)}",
            f"title = {_toml_string(title)}",
            "",
        ]
    lines += [
        "[links]",
        "# Globs of the Markdown files whose links are checked, and globs to skip.",
        "include = ['**']",
        "exclude = []",
        "",
        "# Drift rules: a Python regex, a scope (prose, code or any), what is wrong,",
        "# how to fix it and why the rule exists.",
    ]
    lines += [
        "# [[drift_rules]]",
        "# id = 'NO-FOO'",
        "# pattern = '\\bfoo\\b'",
        "# scope = 'prose'",
        "# message = 'foo is gone'",
        "# fix = 'say bar'",
        "# reason = 'foo was renamed bar'",
        "",
    ]
    lines += [
        "# Optional sections, see docs/DOCS_GOVERNANCE.md in Autopack:",
        "# [summary]    file = 'README.md', refresh_command = '...'  (block from the ledgers)",
        "# [workspace]  top_level = [...], directories = {...}, forbidden = [...]",
    ]
    return "\n".join(lines) + "\n"
