"""Accepting a helper's output: the output contract and its guardrails.

An output is accepted only if it passes every check: the published schema, the
brief it names (id and SHA-256 of the brief file), every evidence path inside the
run's ``handoff/`` or among the brief's artifacts (no ``..``, no absolute path, no
symlink out; a cited policy diff is found in the workspace's policy store, where
its workspace-relative path points) with its real hash, no secret in any encoding (the runtime's
redactor: pattern rules and every stored secret), no URL off the allowlist.
Accepted outputs land in ``handoff/outputs/<brief id>.json``; a refused one is
kept, secrets masked, in ``handoff/rejected/`` beside a reason file. Proposed
actions are recorded in the output and never executed.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from autopack.domain.canonical import (
    CanonicalizationError,
    canonical_json,
    parse_json_strict,
    sha256_hex,
)
from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import InvalidInputError
from autopack.domain.handoff_contract import (
    MAX_OUTPUT_BYTES,
    Problem,
    content_problems,
    mask_secrets,
    path_problem,
    schema_problems,
)
from autopack.domain.layout import (
    HANDOFF_BRIEFS,
    HANDOFF_DIR,
    HANDOFF_OUTPUTS,
    HANDOFF_REJECTED,
    RunRef,
    policy_root,
)
from autopack.domain.redaction import Redactor
from autopack.services.artifacts import POLICY_DIFF_KIND
from autopack.services.context import Runtime
from autopack.services.fsio import resolves_inside as inside
from autopack.services.handoff.context import read_json, run_facts
from autopack.services.handoff.files import HandoffFiles

REJECTION_SCHEMA: Final = "autopack.handoff-rejection/1"
PROPOSALS_NOTE: Final = (
    "proposed actions are recorded, never executed: a principal must propose each to the "
    "ledger (`autopack actions propose` or POST /api/actions), where it needs approval"
)


@dataclass(frozen=True, slots=True)
class AcceptResult:
    accepted: bool
    run_id: str
    path: str  # where the output (accepted) or its masked copy (rejected) is kept
    problems: tuple[Problem, ...] = ()
    reason_path: str | None = None
    brief_id: str | None = None
    proposed_actions: int = 0
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "run_id": self.run_id,
            "path": self.path,
            "reason_path": self.reason_path,
            "brief_id": self.brief_id,
            "proposed_actions": self.proposed_actions,
            "problems": [p.to_dict() for p in self.problems],
            "notes": list(self.notes),
        }


class OutputChecks:
    """The checks that read the run's files; the pure ones are in the domain."""

    def __init__(self, files: HandoffFiles, redactor: Redactor, allowlist: list[str]) -> None:
        self.files = files
        self.redactor = redactor
        self.allowlist = allowlist

    def brief(self, document: dict[str, Any]) -> tuple[list[Problem], dict[str, Any] | None]:
        brief_id = document["brief_id"]
        data = self.files.read_bytes(HANDOFF_BRIEFS, f"{brief_id}.json")
        if data is None:
            return [Problem("brief_not_found", "/brief_id", "no such brief in this run")], None
        if sha256_hex(data) != document["brief_sha256"]:
            return [
                Problem("brief_hash_mismatch", "/brief_sha256", "is not the brief file's SHA-256")
            ], None
        brief = read_json(self.files, HANDOFF_BRIEFS, f"{brief_id}.json")
        return [], brief if isinstance(brief, dict) else None

    def evidence(self, document: dict[str, Any], brief: dict[str, Any] | None) -> list[Problem]:
        cited = {
            str(a.get("path")): a.get("kind")
            for a in (brief or {}).get("artifacts", [])
            if isinstance(a, dict)
        }
        run_dir = self.files.run_dir
        problems = []
        for i, finding in enumerate(document["findings"]):
            for j, item in enumerate(finding["evidence"]):
                pointer = f"/findings/{i}/evidence/{j}/path"
                path = item["path"]
                why = path_problem(path)
                if why is None:
                    if cited.get(path) == POLICY_DIFF_KIND:
                        workspace = self.files.workspace
                        target = workspace.joinpath(*path.split("/"))
                        allowed = inside(target, policy_root(workspace))
                    else:
                        target = run_dir.joinpath(*path.split("/"))
                        in_handoff = path.startswith(HANDOFF_DIR + "/") and inside(
                            target, self.files.root
                        )
                        allowed = in_handoff or (path in cited and inside(target, run_dir))
                    if not allowed:
                        why = "outside the run's handoff/ and not an artifact the brief cites"
                    elif not target.is_file():
                        why = "no such file in the run"
                    elif sha256_hex(target.read_bytes()) != item["sha256"]:
                        problems.append(
                            Problem("evidence_hash_mismatch", pointer, "the file's SHA-256 differs")
                        )
                        continue
                if why is not None:
                    problems.append(Problem("path_not_allowed", pointer, why))
        return problems

    def run(self, data: bytes) -> tuple[dict[str, Any] | None, list[Problem]]:
        if len(data) > MAX_OUTPUT_BYTES:
            return None, [Problem("too_large", "", f"larger than {MAX_OUTPUT_BYTES} bytes")]
        text = data.decode("utf-8", errors="replace")
        # The raw text too: it holds the JSON-escaped forms the parsed strings lost.
        problems = content_problems(text, self.redactor, self.allowlist)
        try:
            parsed = parse_json_strict(data)
        except CanonicalizationError as exc:
            return None, [Problem("invalid_json", "", exc.message[:200]), *problems]
        problems += content_problems(parsed, self.redactor, self.allowlist)
        found = schema_problems(parsed)
        if found or not isinstance(parsed, dict):
            return None, [*found, *problems]
        brief_problems, brief = self.brief(parsed)
        problems += brief_problems + self.evidence(parsed, brief)
        markdown = self.files.read_bytes(HANDOFF_OUTPUTS, f"{parsed['brief_id']}.md")
        if markdown is not None:
            for p in content_problems(
                markdown.decode("utf-8", "replace"), self.redactor, self.allowlist
            ):
                problems.append(Problem(p.code, f"{parsed['brief_id']}.md", p.message))
        return parsed, problems


def _unique(problems: list[Problem], redactor: Redactor) -> tuple[Problem, ...]:
    seen: dict[tuple[str, str, str], Problem] = {}
    for p in problems:
        # A pointer names keys, and a key can be a secret.
        safe = Problem(p.code, mask_secrets(p.pointer, redactor), p.message)
        seen.setdefault((safe.code, safe.pointer, safe.message), safe)
    return tuple(seen[k] for k in sorted(seen))


class OutputService:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime

    def accept_file(self, run_id: str, file: Path) -> AcceptResult:
        """Check ``file``; a refused file inside the run's handoff/ is moved to rejected/."""
        try:
            with file.open("rb") as handle:
                data = handle.read(MAX_OUTPUT_BYTES + 1)
        except OSError as exc:
            raise InvalidInputError(
                f"cannot read {file.name}: {exc.strerror or type(exc).__name__}",
                code=ErrorCode.PAYLOAD_UNREADABLE,
            ) from exc
        ref, _ = run_facts(self.rt, run_id)
        result = self.accept_bytes(run_id, data, ref=ref)
        files = HandoffFiles(self.rt.workspace, ref)
        kept = files.run_dir / result.path
        if (
            not result.accepted
            and inside(file, files.root)
            and os.path.realpath(file) != os.path.realpath(kept)
        ):
            with contextlib.suppress(FileNotFoundError):
                file.unlink()
        return result

    def accept_bytes(self, run_id: str, data: bytes, *, ref: RunRef | None = None) -> AcceptResult:
        if ref is None:
            ref, _ = run_facts(self.rt, run_id)
        files = HandoffFiles(self.rt.workspace, ref)
        redactor = self.rt.redactor()
        checks = OutputChecks(files, redactor, self.rt.settings.handoff_url_list)
        document, problems = checks.run(data)
        if document is not None and not problems:
            path = files.write_json(document, HANDOFF_OUTPUTS, f"{document['brief_id']}.json")
            count = len(document["proposed_actions"])
            return AcceptResult(
                accepted=True,
                run_id=run_id,
                path=files.relative(path),
                brief_id=document["brief_id"],
                proposed_actions=count,
                notes=(PROPOSALS_NOTE,) if count else (),
            )
        unique = _unique(problems, redactor)
        name = sha256_hex(data)[:24]
        kept = files.write_text(
            mask_secrets(data.decode("utf-8", errors="replace"), redactor),
            HANDOFF_REJECTED,
            f"{name}.json",
        )
        reason = {
            "schema": REJECTION_SCHEMA,
            "sha256": sha256_hex(data),
            "problems": [p.to_dict() for p in unique],
        }
        reason_path = files.write_bytes(
            canonical_json(reason) + b"\n", HANDOFF_REJECTED, f"{name}.reason.json"
        )
        brief_id = document.get("brief_id") if isinstance(document, dict) else None
        return AcceptResult(
            accepted=False,
            run_id=run_id,
            path=files.relative(kept),
            problems=unique,
            reason_path=files.relative(reason_path),
            brief_id=brief_id if isinstance(brief_id, str) else None,
        )
