"""The run context: ``handoff/context.json`` (the truth) and ``context.md`` (its rendering)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from autopack.domain.canonical import CanonicalizationError, format_utc, parse_json_strict
from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import CheckFailedError, InvalidInputError, NotFoundError
from autopack.domain.handoff import check_context, clean_notes, context_document, render_context
from autopack.domain.layout import HANDOFF_CONTEXT_JSON, HANDOFF_CONTEXT_MD, HANDOFF_OUTPUTS, RunRef
from autopack.services.artifacts import ARTIFACT_SOURCES, collect
from autopack.services.context import Runtime
from autopack.services.handoff.files import HandoffFiles
from autopack.services.runs import RunService

MAX_OPEN_QUESTIONS: Final = 200


def run_facts(runtime: Runtime, run_id: str) -> tuple[RunRef, dict[str, Any]]:
    """The run's reference and the facts a context shows (no machine paths)."""
    record = RunService(runtime).get(run_id)
    facts = {
        "project": record.ref.project,
        "family": record.ref.family,
        "run_id": record.ref.run_id,
        "created_at": format_utc(record.created_at),
    }
    return record.ref, facts


def read_json(files: HandoffFiles, *parts: str) -> Any | None:
    data = files.read_bytes(*parts)
    if data is None:
        return None
    try:
        return parse_json_strict(data)
    except CanonicalizationError:
        return None


def output_questions(files: HandoffFiles) -> list[str]:
    """Open questions of the accepted outputs (they flow back into the context)."""
    questions: list[str] = []
    for name in files.names(HANDOFF_OUTPUTS, suffix=".json"):
        document = read_json(files, HANDOFF_OUTPUTS, name)
        if isinstance(document, dict) and isinstance(document.get("open_questions"), list):
            questions += [
                " ".join(q.split()) for q in document["open_questions"] if isinstance(q, str)
            ]
    return [q for q in questions if q]


@dataclass(frozen=True, slots=True)
class ContextResult:
    json_path: str
    markdown_path: str
    document: dict[str, Any]


class ContextService:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime

    def files(self, ref: RunRef) -> HandoffFiles:
        return HandoffFiles(self.rt.workspace, ref)

    def generate(
        self,
        run_id: str,
        *,
        goals: Sequence[str] | None = None,
        constraints: Sequence[str] | None = None,
        questions: Sequence[str] | None = None,
    ) -> ContextResult:
        """Write context.json from the run's artifact sources, then context.md from it.

        Goals, constraints and questions not given are kept from the existing context."""
        ref, facts = run_facts(self.rt, run_id)
        files = self.files(ref)
        previous = read_json(files, HANDOFF_CONTEXT_JSON)
        before: dict[str, Any] = previous if isinstance(previous, dict) else {}

        def notes(kind: str, key: str, given: Sequence[str] | None) -> list[str]:
            kept = before.get(key)
            chosen = given if given is not None else (kept if isinstance(kept, list) else [])
            return clean_notes(kind, [str(t) for t in chosen])

        # The caller's questions are checked; the outputs' were checked on acceptance,
        # and however many outputs there are, the context keeps a bounded number.
        kept_questions = before.get("open_questions")
        own = (
            clean_notes("question", questions)
            if questions is not None
            else [str(q) for q in kept_questions if isinstance(q, str)]
            if isinstance(kept_questions, list)
            else []
        )
        asked = sorted({*own, *output_questions(files)})
        asked = asked[:MAX_OPEN_QUESTIONS]
        collected = collect(self.rt, ref, ARTIFACT_SOURCES)
        document = context_document(
            run=facts,
            goals=notes("goal", "goals", goals),
            constraints=notes("constraint", "constraints", constraints),
            open_questions=asked,
            sections=collected.sections,
            artifacts=[a.to_dict() for a in collected.artifacts],
        )
        document = self.rt.redactor().redact_value(document)
        json_path = files.write_json(document, HANDOFF_CONTEXT_JSON)
        md_path = files.write_text(render_context(document), HANDOFF_CONTEXT_MD)
        return ContextResult(files.relative(json_path), files.relative(md_path), document)

    def load(self, ref: RunRef) -> dict[str, Any] | None:
        files = self.files(ref)
        data = files.read_bytes(HANDOFF_CONTEXT_JSON)
        if data is None:
            return None
        try:
            return check_context(parse_json_strict(data))
        except CanonicalizationError as exc:
            raise InvalidInputError(
                f"handoff/context.json is not valid JSON: {exc.message}",
                code=ErrorCode.INVALID_CONTEXT,
            ) from exc

    def check(self, run_id: str) -> dict[str, Any]:
        """Refuse (exit 1) when context.md is not exactly what context.json renders to."""
        ref, _ = run_facts(self.rt, run_id)
        document = self.load(ref)
        if document is None:
            raise NotFoundError(
                f"run {run_id} has no handoff/context.json: "
                f"run `autopack handoff context {run_id}`",
                code=ErrorCode.CONTEXT_NOT_FOUND,
            )
        expected = render_context(document).encode("utf-8")
        actual = self.files(ref).read_bytes(HANDOFF_CONTEXT_MD)
        if actual != expected:
            raise CheckFailedError(
                "handoff/context.md differs from what handoff/context.json renders to "
                f"(it is never edited by hand): run `autopack handoff context {run_id}`",
                code=ErrorCode.CONTEXT_STALE,
            )
        return {"ok": True, "run_id": run_id}
