"""``autopack docs init``: a minimal, commented TOML registry for a repository.

Living docs are every Markdown file by glob; ledgers (append-only history) are
found by file name; the drift rules are a starter set that fits any repository
(machine paths) plus Autopack's run layout. TOML needs no double escaping of
regexes. The text is built here; the CLI writes it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

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


@dataclass(frozen=True, slots=True)
class StarterRule:
    id: str
    pattern: str
    scope: str
    message: str
    fix: str
    reason: str


STARTER_RULES = (
    StarterRule(
        "ABS-PATH",
        r"""/(?<![\w.~]/)(?:home|Users|root)/[\w.-]+|:\\Users\\(?<=[A-Za-z]:\\Users\\)""",
        "any",
        "absolute path of one machine",
        "use a path relative to the repository or the workspace",
        "docs must work on every machine; a home directory in them is someone's laptop leaking in",
    ),
    StarterRule(
        "RUN-LAYOUT-FLAT",
        r"""\.autonomous_runs/(?:<run_id>|<run-id>|\{run_id\}|\$\{run_id\}|\d{8}-\d{6})""",
        "any",
        "flat run path without <project>/runs/<family>/",
        "use .autonomous_runs/<project>/runs/<family>/<run_id>/",
        "runs live only under their project and family (autopack.domain.layout)",
    ),
    StarterRule(
        "RUN-LAYOUT-NO-FAMILY",
        r"""\.autonomous_runs/[^/\s`'"()\[\],;|]+/runs/(?:(?:<run_id>|<run-id>|\{run_id\}|\$\{run_id\}|\d{8}-\d{6})|(?!<family>/|batch_)[^/\s`'"()\[\],;|]+/(?:(?:artifacts|checkpoints|ledger|logs|outputs|phases|reports|state|tmp)(?:/|(?=[.:]?(?:[\s`'"()\[\],;|]|$)))|[^/\s`'"()\[\],;|]*\.[A-Za-z][A-Za-z0-9]{0,7}(?=[.:]?(?:[\s`'"()\[\],;|]|$))))""",
        "any",
        "run path without the <family>/ segment",
        "use .autonomous_runs/<project>/runs/<family>/<run_id>/",
        "the family segment is part of every run path (autopack.domain.layout): "
        "a run id, a run's file or a run subfolder never sits directly under runs/<name>/",
    ),
)


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
        "# how to fix it and why the rule exists. Add your own below.",
    ]
    for rule in STARTER_RULES:
        lines += [
            "[[drift_rules]]",
            f"id = {_toml_string(rule.id)}",
            f"pattern = {_toml_string(rule.pattern)}",
            f"scope = {_toml_string(rule.scope)}",
            f"message = {_toml_string(rule.message)}",
            f"fix = {_toml_string(rule.fix)}",
            f"reason = {_toml_string(rule.reason)}",
            "",
        ]
    lines += [
        "# Optional sections, see docs/DOCS_GOVERNANCE.md in Autopack:",
        "# [summary]    file = 'README.md', refresh_command = '...'  (block from the ledgers)",
        "# [workspace]  top_level = [...], directories = {...}, forbidden = [...]",
    ]
    return "\n".join(lines) + "\n"
