"""Workspace structure verifier: what may live where, from the registry.

Repository files come from git (tracked plus untracked-not-ignored). Rules:
- every top-level entry is in ``workspace.top_level`` (directories end in ``/``);
- files under a directory listed in ``workspace.directories`` match one of its globs;
- nothing matches ``workspace.forbidden`` (state, secrets, databases);
- the runtime tree ``.autonomous_runs/`` (ignored by git, so read from disk)
  follows the run layout of ``autopack.domain.layout``.
Both allowlists are ratchets.
"""

from __future__ import annotations

from pathlib import Path

from autopack.domain.errors import InvalidInputError
from autopack.domain.layout import (
    MANIFEST_NAME,
    RUN_DIR_TEMPLATE,
    RUNS_ROOT,
    RUNS_SEGMENT,
    STATE_DIR,
    validate_identifier,
)
from autopack.governance.findings import (
    Finding,
    Report,
    glob_match,
    ratchet_order,
    ratchet_unused,
    registry_finding,
)
from autopack.governance.view import RepoView


def _top_entry(path: str) -> str:
    head, sep, _ = path.partition("/")
    return head + "/" if sep else head


def check_workspace(view: RepoView) -> Report:
    loaded = view.loaded
    spec = view.registry.workspace
    report = Report("workspace")
    if spec is None:
        report.skipped = f"no workspace section in {loaded.path}"
        return report
    findings = report.findings
    findings += ratchet_order(loaded.path, loaded.text, "workspace.top_level", spec.top_level)
    findings += ratchet_order(
        loaded.path, loaded.text, "workspace.directories", list(spec.directories)
    )
    findings += ratchet_order(loaded.path, loaded.text, "workspace.forbidden", spec.forbidden)
    allowed_top = set(spec.top_level)
    used_top: set[str] = set()
    used_globs: set[tuple[str, str]] = set()
    for directory, globs in spec.directories.items():
        findings += ratchet_order(
            loaded.path, loaded.text, f"workspace.directories[{directory}]", globs
        )
        if not directory.endswith("/"):
            findings.append(
                registry_finding(
                    loaded.path,
                    loaded.text,
                    directory,
                    "WS-REGISTRY",
                    f"workspace.directories key {directory!r} must end with '/'",
                    "",
                )
            )
    governed = sorted(spec.directories, key=len, reverse=True)
    for path in view.files:
        top = _top_entry(path)
        if top in allowed_top:
            used_top.add(top)
        else:
            findings.append(
                Finding(
                    path,
                    1,
                    "WS-TOP-LEVEL",
                    f"unknown top-level entry {top!r}",
                    f"move it under an existing directory or add it to workspace.top_level "
                    f"in {loaded.path}",
                )
            )
        for pattern in spec.forbidden:
            if glob_match(pattern, path):
                findings.append(
                    Finding(
                        path,
                        1,
                        "WS-FORBIDDEN",
                        f"matches forbidden pattern {pattern!r}",
                        "remove it from the repository (git rm --cached) and ignore it",
                    )
                )
        owner = next((d for d in governed if path.startswith(d)), None)
        if owner is None:
            continue
        rest = path[len(owner) :]
        hits = [g for g in spec.directories[owner] if glob_match(g, rest)]
        used_globs.update((owner, g) for g in hits)
        if not hits:
            findings.append(
                Finding(
                    path,
                    1,
                    "WS-PLACEMENT",
                    f"{rest!r} is not allowed under {owner}",
                    f"move it, or add a glob to workspace.directories[{owner!r}] in {loaded.path}",
                )
            )
    findings += ratchet_unused(
        loaded.path, loaded.text, "workspace.top_level", sorted(allowed_top - used_top)
    )
    for directory, globs in spec.directories.items():
        findings += ratchet_unused(
            loaded.path,
            loaded.text,
            f"workspace.directories[{directory}]",
            [g for g in globs if (directory, g) not in used_globs],
        )
    runs = 0
    if spec.check_runs:
        run_findings, runs = check_run_tree(view.root)
        findings += run_findings
    report.stats = {"files": len(view.files), "top_level": len(used_top), "runs": runs}
    return report


def _valid(kind: str, name: str) -> str | None:
    try:
        validate_identifier(kind, name)
    except InvalidInputError as exc:
        return exc.message
    return None


def check_run_tree(root: Path) -> tuple[list[Finding], int]:
    """The on-disk runtime tree follows the run layout; returns (findings, runs seen)."""
    base = root / RUNS_ROOT
    if not base.is_dir():
        return [], 0
    findings: list[Finding] = []
    fix = f"runs live only at {RUN_DIR_TEMPLATE}; create them with `autopack runs new`"

    def bad(path: Path, message: str) -> None:
        findings.append(
            Finding(path.relative_to(root).as_posix(), 1, "WS-RUN-LAYOUT", message, fix)
        )

    runs = 0
    for project in sorted(base.iterdir()):
        if project.name == STATE_DIR:
            continue
        problem = _valid("project", project.name) if project.is_dir() else "not a directory"
        if problem:
            bad(project, problem)
            continue
        for child in sorted(project.iterdir()):
            # Project-level files (a policy) are fine; any other directory is a
            # run stored outside runs/<family>/ (the legacy flat layout).
            if not child.is_dir():
                continue
            if child.name != RUNS_SEGMENT:
                bad(child, f"a project holds runs only under {RUNS_SEGMENT}/<family>/")
                continue
            for family in sorted(child.iterdir()):
                problem = _valid("family", family.name) if family.is_dir() else "not a directory"
                if problem:
                    bad(family, problem)
                    continue
                for run in sorted(family.iterdir()):
                    problem = _valid("run_id", run.name) if run.is_dir() else "not a directory"
                    if problem:
                        bad(run, problem)
                    elif not (run / MANIFEST_NAME).is_file():
                        bad(run, f"run directory without {MANIFEST_NAME}")
                    else:
                        runs += 1
    return findings, runs
