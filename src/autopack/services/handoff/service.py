"""``HandoffService``: the handoff's front door. Each write also re-indexes the run in
run memory, so memory follows the files without a separate step."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from autopack.domain.layout import HANDOFF_BRIEFS, HANDOFF_OUTPUTS, HANDOFF_REJECTED
from autopack.services.context import Runtime
from autopack.services.handoff.briefs import BriefResult, BriefService
from autopack.services.handoff.context import ContextResult, ContextService, read_json, run_facts
from autopack.services.handoff.files import HandoffFiles
from autopack.services.handoff.outputs import AcceptResult, OutputService
from autopack.services.memory import MemoryService


class HandoffService:
    def __init__(self, runtime: Runtime, memory: MemoryService | None = None) -> None:
        self.rt = runtime
        self.memory = memory if memory is not None else MemoryService(runtime)
        self.contexts = ContextService(runtime)
        self.briefs = BriefService(runtime, self.memory)
        self.outputs = OutputService(runtime)

    def close(self) -> None:
        self.memory.close()

    def context(
        self,
        run_id: str,
        *,
        goals: Sequence[str] | None = None,
        constraints: Sequence[str] | None = None,
        questions: Sequence[str] | None = None,
    ) -> ContextResult:
        result = self.contexts.generate(
            run_id, goals=goals, constraints=constraints, questions=questions
        )
        self.memory.index_run(run_facts(self.rt, run_id)[0])
        return result

    def check_context(self, run_id: str) -> dict[str, Any]:
        return self.contexts.check(run_id)

    def brief(self, run_id: str, task: str, goal: str) -> BriefResult:
        return self.briefs.create(run_id, task, goal)

    def _after_accept(self, run_id: str, result: AcceptResult) -> AcceptResult:
        if result.accepted:
            ref, _ = run_facts(self.rt, run_id)
            # The output's open questions flow into an existing context.
            if self.contexts.load(ref) is not None:
                self.contexts.generate(run_id)
            self.memory.index_run(ref)
        return result

    def accept_file(self, run_id: str, file: Path) -> AcceptResult:
        return self._after_accept(run_id, self.outputs.accept_file(run_id, file))

    def accept_bytes(self, run_id: str, data: bytes) -> AcceptResult:
        return self._after_accept(run_id, self.outputs.accept_bytes(run_id, data))

    def show(self, run_id: str) -> dict[str, Any]:
        """What the run's handoff holds: context, briefs, accepted and rejected outputs."""
        ref, facts = run_facts(self.rt, run_id)
        files = HandoffFiles(self.rt.workspace, ref)
        context = self.contexts.load(ref)
        outputs = []
        for name in files.names(HANDOFF_OUTPUTS, suffix=".json"):
            document = read_json(files, HANDOFF_OUTPUTS, name)
            if isinstance(document, dict):
                outputs.append(
                    {
                        "brief_id": str(document.get("brief_id", "")),
                        "path": f"handoff/{HANDOFF_OUTPUTS}/{name}",
                        "summary": str(document.get("summary", "")),
                        "proposed_actions": document.get("proposed_actions", []),
                    }
                )
        return {
            "run": facts,
            "context": context,
            "briefs": [
                f"handoff/{HANDOFF_BRIEFS}/{n}" for n in files.names(HANDOFF_BRIEFS, suffix=".json")
            ],
            "outputs": outputs,
            "rejected": [
                f"handoff/{HANDOFF_REJECTED}/{n}"
                for n in files.names(HANDOFF_REJECTED, suffix=".reason.json")
            ],
        }
