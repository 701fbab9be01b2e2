"""Sub-agent handoff documents: the run context and task briefs, and their Markdown.

Pure: the services gather the facts, this module shapes them into documents and
renders the Markdown a helper reads. ``context.json`` is the source of truth;
``context.md`` is always ``render_context(context.json)``, byte for byte, so a
check can tell a hand-edited or stale Markdown file. Nothing here reads a clock:
the same facts give the same bytes.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from typing import Any, Final

from autopack.domain.canonical import JsonValue, canonical_hash
from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import InvalidInputError

CONTEXT_SCHEMA: Final = "autopack.handoff-context/1"
BRIEF_SCHEMA: Final = "autopack.handoff-brief/1"
BRIEF_ID_LENGTH: Final = 24  # hex characters of the brief body's canonical hash
MAX_GOAL: Final = 2000
MAX_NOTES: Final = 50  # goals, constraints or open questions per context
SIMILAR_RUNS: Final = 3


class Task(enum.StrEnum):
    RESEARCH = "research"
    PLAN = "plan"
    REVIEW = "review"


TASK_INSTRUCTIONS: Final[Mapping[Task, str]] = {
    Task.RESEARCH: "Find and cite the facts the goal depends on; say what is unknown.",
    Task.PLAN: "Propose the steps that reach the goal, each with its evidence and risks.",
    Task.REVIEW: "Check the run's artifacts against the goal; report every problem found.",
}

# What a helper may and may not do; every brief carries them, and the output
# check enforces the ones a machine can check.
GUARDRAILS: Final[tuple[str, ...]] = (
    "Read and write files only; call no API, run no command, send nothing anywhere.",
    "Write exactly one output: handoff/outputs/<brief id>.json (and optionally .md).",
    "Cite evidence only by paths inside this run's handoff/ directory or among the "
    "artifacts listed in this brief, each with its SHA-256; no '..', no absolute paths.",
    "Never copy a secret, token, key or password into the output, in any encoding.",
    "Link only to URLs whose host is on the allowlist this brief names.",
    "Proposed actions are recorded, never executed: a principal must propose them to "
    "the ledger, where they need approval like any other.",
)


# Policy diffs are shared by every run, so their paths are the workspace's.
ARTIFACT_PATHS_NOTE: Final = (
    "Paths are relative to the run directory; policy_diff paths to the workspace."
)


class InvalidTaskError(InvalidInputError):
    default_code = ErrorCode.INVALID_TASK


def parse_task(value: str) -> Task:
    try:
        return Task(value)
    except ValueError:
        raise InvalidTaskError(
            f"unknown task {value[:40]!r}: use one of " + ", ".join(t.value for t in Task)
        ) from None


def clean_note(kind: str, text: str, limit: int = MAX_GOAL) -> str:
    """A goal, constraint or question: one line of at most ``limit`` characters."""
    cleaned = " ".join(text.split())
    if not cleaned or len(cleaned) > limit:
        raise InvalidInputError(
            f"{kind} must be 1 to {limit} characters of text",
            code=ErrorCode.INVALID_HANDOFF_TEXT,
            details={"field": kind, "max_length": limit},
        )
    return cleaned


def clean_notes(kind: str, texts: Sequence[str]) -> list[str]:
    if len(texts) > MAX_NOTES:
        raise InvalidInputError(f"at most {MAX_NOTES} {kind}s", code=ErrorCode.INVALID_HANDOFF_TEXT)
    return sorted({clean_note(kind, text) for text in texts})


def section(
    name: str, title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> dict[str, Any]:
    """A context section: a titled table one artifact source contributes."""
    return {"name": name, "title": title, "columns": list(columns), "rows": [list(r) for r in rows]}


def context_document(
    *,
    run: Mapping[str, Any],
    goals: Sequence[str],
    constraints: Sequence[str],
    open_questions: Sequence[str],
    sections: Sequence[Mapping[str, Any]],
    artifacts: Sequence[Mapping[str, str]],
) -> dict[str, Any]:
    return {
        "schema": CONTEXT_SCHEMA,
        "run": dict(run),
        "goals": list(goals),
        "constraints": list(constraints),
        "open_questions": list(open_questions),
        "sections": [dict(s) for s in sections],
        "artifacts": sorted((dict(a) for a in artifacts), key=lambda a: a["path"]),
    }


def check_context(document: JsonValue) -> dict[str, Any]:
    """``document`` if it is a context document this version renders, else refuse."""
    if not isinstance(document, dict) or document.get("schema") != CONTEXT_SCHEMA:
        raise InvalidInputError(
            f"not a handoff context (schema {CONTEXT_SCHEMA})", code=ErrorCode.INVALID_CONTEXT
        )
    for key in ("run", "goals", "constraints", "open_questions", "sections", "artifacts"):
        if key not in document:
            raise InvalidInputError(
                f"handoff context lacks {key!r}", code=ErrorCode.INVALID_CONTEXT
            )
    return document


# -- Markdown ----------------------------------------------------------------------


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return " ".join(text.split()).replace("\\", "\\\\").replace("|", "\\|").replace("`", "'")


def _line(value: Any) -> str:
    return " ".join(str(value).split())


def _bullets(items: Sequence[Any]) -> list[str]:
    return [f"- {_line(item)}" for item in items] if items else ["- (none)"]


def _table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    if not rows:
        return ["(none)"]
    out = [
        "| " + " | ".join(_cell(c) for c in columns) + " |",
        "| " + " | ".join("---" for _ in columns) + " |",
    ]
    out.extend("| " + " | ".join(_cell(v) for v in row) + " |" for row in rows)
    return out


def _artifact_rows(artifacts: Sequence[Mapping[str, Any]]) -> list[list[Any]]:
    return [[a["path"], a["kind"], a["sha256"]] for a in artifacts]


def render_context(document: Mapping[str, Any]) -> str:
    """The Markdown of a context document (the only way context.md is written)."""
    run = document["run"]
    lines = [
        f"# Handoff context: {_line(run['project'])}/{_line(run['family'])}/{_line(run['run_id'])}",
        "",
        "Generated from `handoff/context.json` by `autopack handoff context`; "
        "never edit it by hand.",
        "",
        "## Run",
        "",
        *(f"- {_line(k)}: {_line(v)}" for k, v in sorted(run.items())),
        "",
        "## Goals",
        "",
        *_bullets(document["goals"]),
        "",
        "## Constraints",
        "",
        *_bullets(document["constraints"]),
        "",
    ]
    for part in document["sections"]:
        lines += [f"## {_line(part['title'])}", "", *_table(part["columns"], part["rows"]), ""]
    lines += [
        "## Open questions",
        "",
        *_bullets(document["open_questions"]),
        "",
        "## Artifacts",
        "",
        ARTIFACT_PATHS_NOTE,
        "",
        *_table(("path", "kind", "sha256"), _artifact_rows(document["artifacts"])),
    ]
    return "\n".join(lines) + "\n"


# -- briefs ------------------------------------------------------------------------


def brief_document(
    *,
    run: Mapping[str, Any],
    task: Task,
    goal: str,
    artifacts: Sequence[Mapping[str, str]],
    similar_runs: Sequence[Mapping[str, Any]],
    output_contract: Mapping[str, Any],
    url_allowlist: Sequence[str],
) -> dict[str, Any]:
    """A brief with its id: the first characters of its body's canonical hash, so the
    same facts always give the same brief (and file name)."""
    body: dict[str, Any] = {
        "schema": BRIEF_SCHEMA,
        "run": dict(run),
        "task": task.value,
        "instructions": TASK_INSTRUCTIONS[task],
        "goal": goal,
        "artifacts": sorted((dict(a) for a in artifacts), key=lambda a: a["path"]),
        "similar_runs": [dict(s) for s in similar_runs],
        "output_contract": dict(output_contract),
        "guardrails": list(GUARDRAILS),
        "url_allowlist": sorted(url_allowlist),
    }
    return {**body, "id": canonical_hash(body)[:BRIEF_ID_LENGTH]}


def render_brief(brief: Mapping[str, Any]) -> str:
    run = brief["run"]
    contract = brief["output_contract"]
    similar = [
        [s["rank"], f"{s['project']}/{s['family']}/{s['run_id']}", s["path"], s["sha256"]]
        for s in brief["similar_runs"]
    ]
    lines = [
        f"# Brief {brief['id']}: {brief['task']}",
        "",
        f"Run: {_line(run['project'])}/{_line(run['family'])}/{_line(run['run_id'])}. "
        "Generated by `autopack handoff brief`; the JSON beside this file is the source.",
        "",
        "## Goal",
        "",
        _line(brief["goal"]),
        "",
        "## Instructions",
        "",
        _line(brief["instructions"]),
        "",
        "## Relevant artifacts",
        "",
        ARTIFACT_PATHS_NOTE,
        "",
        *_table(("path", "kind", "sha256"), _artifact_rows(brief["artifacts"])),
        "",
        "## Similar earlier runs",
        "",
        *_table(("rank", "run", "path", "sha256"), similar),
        "",
        "## Output contract",
        "",
        *(f"- {_line(k)}: {_line(v)}" for k, v in sorted(contract.items())),
        "",
        "## Guardrails",
        "",
        *_bullets(brief["guardrails"]),
        "",
        "## URL allowlist",
        "",
        *_bullets(brief["url_allowlist"]),
    ]
    return "\n".join(lines) + "\n"
