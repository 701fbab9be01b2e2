"""Task briefs: ``handoff/briefs/<id>.json`` and ``.md``, generated from the run's artifacts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from autopack.domain.canonical import canonical_json, sha256_hex
from autopack.domain.handoff import (
    SIMILAR_RUNS,
    brief_document,
    clean_note,
    parse_task,
    render_brief,
)
from autopack.domain.handoff_contract import OUTPUT_SCHEMA, OUTPUT_SCHEMA_ID
from autopack.domain.layout import HANDOFF_BRIEFS, HANDOFF_CONTEXT_JSON, HANDOFF_OUTPUTS
from autopack.domain.memory import terms
from autopack.services.artifacts import ARTIFACT_SOURCES, CONTEXT_FILE, CONTEXT_SOURCE_FILE, collect
from autopack.services.context import Runtime
from autopack.services.handoff.context import ContextService, run_facts
from autopack.services.memory import MemoryService

SCHEMA_NAME: Final = "output.schema.json"


SCHEMA_BYTES: Final = canonical_json(OUTPUT_SCHEMA) + b"\n"


def output_contract() -> dict[str, Any]:
    return {
        "schema": OUTPUT_SCHEMA_ID,
        "schema_file": f"handoff/{SCHEMA_NAME}",
        "schema_sha256": sha256_hex(SCHEMA_BYTES),
        "write_to": f"handoff/{HANDOFF_OUTPUTS}/<brief id>.json (optional: .md beside it)",
        "brief_sha256": "the SHA-256 of this brief's .json file, as written",
        "accepted_by": "autopack handoff accept RUN_ID FILE",
    }


@dataclass(frozen=True, slots=True)
class BriefResult:
    brief: dict[str, Any]
    json_path: str
    markdown_path: str
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.brief["id"],
            "sha256": self.sha256,
            "json_path": self.json_path,
            "markdown_path": self.markdown_path,
            "brief": self.brief,
        }


class BriefService:
    def __init__(self, runtime: Runtime, memory: MemoryService) -> None:
        self.rt = runtime
        self.memory = memory
        self.contexts = ContextService(runtime)

    def create(self, run_id: str, task: str, goal: str) -> BriefResult:
        parsed_task = parse_task(task)
        redactor = self.rt.redactor()
        cleaned_goal = redactor.redact_text(clean_note("goal", goal))
        ref, facts = run_facts(self.rt, run_id)
        files = self.contexts.files(ref)
        if files.read_bytes(HANDOFF_CONTEXT_JSON) is None:
            self.contexts.generate(run_id)
        files.write_bytes(SCHEMA_BYTES, SCHEMA_NAME)
        # The context and the sources, never other briefs: the same goal on the
        # same artifacts must give the same brief.
        collected = collect(self.rt, ref, (*ARTIFACT_SOURCES, CONTEXT_FILE, CONTEXT_SOURCE_FILE))
        query = f"{parsed_task.value} {cleaned_goal}"
        similar = self.memory.similar_runs(query, ref, SIMILAR_RUNS) if terms(query) else []
        # Every input is redacted already (the goal above, the rest are paths and
        # hashes), so the id is the hash of exactly what is written.
        brief = brief_document(
            run=facts,
            task=parsed_task,
            goal=cleaned_goal,
            artifacts=[a.to_dict() for a in collected.artifacts],
            similar_runs=similar,
            output_contract=output_contract(),
            url_allowlist=self.rt.settings.handoff_url_list,
        )
        data = canonical_json(brief) + b"\n"
        json_path = files.write_bytes(data, HANDOFF_BRIEFS, f"{brief['id']}.json")
        md_path = files.write_text(render_brief(brief), HANDOFF_BRIEFS, f"{brief['id']}.md")
        self.memory.index_run(ref)
        return BriefResult(
            brief, files.relative(json_path), files.relative(md_path), sha256_hex(data)
        )
