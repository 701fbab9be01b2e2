"""Living docs use only the run layout of autopack.domain.layout; legacy forms are blocked."""

from __future__ import annotations

import re

import pytest
from docs_support import REPO, living_docs, read, registry
from hypothesis import given, settings
from hypothesis import strategies as st

from autopack.domain.errors import InvalidInputError
from autopack.domain.layout import (
    MANIFEST_NAME,
    RUN_DIR_TEMPLATE,
    RUNS_ROOT,
    RUNS_SEGMENT,
    STATE_DIR,
    RunRef,
    validate_identifier,
)
from autopack.governance.rulesets import drift_rules_of

_PATH = re.compile(re.escape(RUNS_ROOT) + r"(?:/[^\s`'\"()\[\],;|]*)?")
_RUN_ID_SHAPED = re.compile(r"\d{8}-\d{6}")
PLACEHOLDERS = {"project": "<project>", "family": "<family>", "run_id": "<run_id>"}

LEGACY_FORMS = [
    ".autonomous_runs/<project>/runs/<run_id>/run.json",
    ".autonomous_runs/demo/runs/20261124-010203-123456-a1b2c3/run.json",
    ".autonomous_runs/demo/runs/publish/run.json",
    ".autonomous_runs/<run_id>/run.json",
    ".autonomous_runs/20261124-010203-123456-a1b2c3/",
    ".autonomous_runs/<project>/<run_id>/",
    ".autonomous_runs/<project>/<family>/<run_id>/",
    ".autonomous_runs/<project>/runs/<family>/<run-id>/",
    ".autonomous_runs/<run-id>/",
    ".autonomous_runs/<project>/runs/<family>/{run_id}/",
    ".autonomous_runs/<project>/runs/<family>/${run_id}/",
    ".autonomous_runs/{run_id}/",
    ".autonomous_runs/${run_id}/artifacts",
    ".autonomous_runs/acme/runs/nightly-build/run.log",
    ".autonomous_runs/acme/runs/nightly-build/phases/",
    ".autonomous_runs/<project>/runs/<run>/ledger/actions.json",
]
VALID_FORMS = [
    RUN_DIR_TEMPLATE,
    RUN_DIR_TEMPLATE + MANIFEST_NAME,
    ".autonomous_runs/demo/runs/publish/20261124-010203-123456-a1b2c3/run.json",
    ".autonomous_runs/demo/runs/publish/",
    ".autonomous_runs/_autopack/autopack.db",
    ".autonomous_runs/<project>/policy.json",
    ".autonomous_runs/",
    ".autonomous_runs/demo/runs/publish/nightly-7/run.json",
]
# Not run paths at all: the drift rules leave them alone (this repository's docs
# name none of them, so the stricter layout_problem above need not know them).
NON_RUN_PATHS = [
    ".autonomous_runs/acme/ci/junit.xml",
    ".autonomous_runs/*/locks/",
    ".autonomous_runs/acme/batch_20261124/summary.md",
    ".autonomous_runs/batch_7/",
]
RUN_SUBFOLDERS = ["artifacts", "checkpoints", "ledger", "logs", "outputs", "phases", "reports"]


def _segment_ok(kind: str, value: str) -> bool:
    if value == PLACEHOLDERS[kind]:
        return True
    if value.startswith("<") or (_RUN_ID_SHAPED.match(value) and kind != "run_id"):
        return False
    try:
        validate_identifier(kind, value)
    except InvalidInputError:
        return False
    return True


def layout_problem(path: str) -> str | None:
    """Why ``path`` (starting at .autonomous_runs) breaks the layout, or None."""
    if "<run-id>" in path or "{run_id}" in path:
        return "only the <run_id> placeholder is used"
    segments = [s for s in path.split("/")[1:] if s]
    if not segments or segments[0] == STATE_DIR:
        return None
    if not _segment_ok("project", segments[0]):
        return f"{segments[0]!r} is not a project: runs are never stored flat"
    if len(segments) == 1:
        return None
    if segments[1] != RUNS_SEGMENT:
        project_file = len(segments) == 2 and "." in segments[1] and not segments[1].startswith("<")
        return None if project_file else f"{segments[1]!r} where {RUNS_SEGMENT}/ belongs"
    if len(segments) >= 3 and not _segment_ok("family", segments[2]):
        return f"{segments[2]!r} where <family> belongs"
    if len(segments) >= 4 and segments[3] == MANIFEST_NAME:
        return f"{MANIFEST_NAME} directly under the family: the <run_id>/ level is missing"
    if len(segments) >= 4 and segments[3] in RUN_SUBFOLDERS:
        return f"run subfolder {segments[3]!r} directly under runs/{segments[2]}/: no family"
    if len(segments) == 4 and re.search(r"\.[A-Za-z][A-Za-z0-9]*$", segments[3]):
        return f"file {segments[3]!r} directly under runs/{segments[2]}/: no family"
    if len(segments) >= 4 and not _segment_ok("run_id", segments[3]):
        return f"{segments[3]!r} where <run_id> belongs"
    return None


def run_paths(text: str) -> list[str]:
    return [m.group(0).rstrip(".:") for m in _PATH.finditer(text)]


def test_the_template_is_the_layout_modules() -> None:
    assert f"{RUNS_ROOT}/<project>/{RUNS_SEGMENT}/<family>/<run_id>/" == RUN_DIR_TEMPLATE
    ref = RunRef("p", "f", "r")
    assert ref.relative_dir.as_posix() + "/" == RUN_DIR_TEMPLATE.replace("<project>", "p").replace(
        "<family>", "f"
    ).replace("<run_id>", "r")


@pytest.mark.parametrize("rel", living_docs())
def test_every_living_doc_exists(rel: str) -> None:
    assert (REPO / rel).is_file(), f"living doc {rel} is missing"


@pytest.mark.parametrize("rel", living_docs())
def test_run_paths_in_living_docs_follow_the_layout(rel: str) -> None:
    problems = [
        f"{rel}: {path}: {problem}"
        for path in run_paths(read(rel))
        if (problem := layout_problem(path)) is not None
    ]
    assert not problems, "\n".join(problems)


def test_template_and_a_canonical_example_appear() -> None:
    texts = {rel: read(rel) for rel in living_docs()}
    assert any(RUN_DIR_TEMPLATE in text for text in texts.values())
    examples = []
    for text in texts.values():
        for path in run_paths(text):
            segments = path.split("/")
            if len(segments) < 5 or any(s.startswith("<") for s in segments[1:5]):
                continue
            if segments[2] == RUNS_SEGMENT:
                examples.append(RunRef(segments[1], segments[3], segments[4]))
    assert examples, "no concrete example of a run path in the living docs"


@pytest.mark.parametrize("form", LEGACY_FORMS)
def test_legacy_forms_are_refused_here_and_by_the_drift_rules(form: str) -> None:
    assert layout_problem(form) is not None
    line = f"Files go to `{form}` from now on."
    hits = [rule.id for rule in drift_rules_of(registry()) if rule.regex().search(line)]
    assert hits, f"no drift rule catches {form}"


@pytest.mark.parametrize("form", VALID_FORMS)
def test_valid_forms_pass_here_and_trip_no_drift_rule(form: str) -> None:
    assert layout_problem(form) is None
    line = f"Files go to `{form}`."
    assert [r.id for r in drift_rules_of(registry()) if r.regex().search(line)] == []


# Hypothesis: concrete names as Autopack accepts them, files and run subfolders.
_NAME = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,15}", fullmatch=True).filter(
    lambda n: not n.startswith("batch_") and n not in RUN_SUBFOLDERS
)
_FILE = st.builds(
    lambda stem, ext: f"{stem}.{ext}", _NAME, st.sampled_from(["json", "log", "md", "txt", "yaml"])
)
_RUN_NAME = st.one_of(_NAME, st.sampled_from(["<run_id>", "<run>", "<name>", "{run_id}"]))
_RUN_ID = st.one_of(
    st.just("<run_id>"),
    st.builds(
        lambda d, t, u, h: f"{d:08d}-{t:06d}-{u:06d}-{h}",
        st.integers(20200101, 20991231),
        st.integers(0, 235959),
        st.integers(0, 999999),
        st.from_regex(r"[0-9a-f]{6}", fullmatch=True),
    ),
)
_CONTEXT = st.sampled_from(["See `{}` now.", "Logs go to {}.", "```bash\ncat {}\n```", "({})"])
ALL_RULES = drift_rules_of(registry())


def _hits(path: str, context: str) -> list[str]:
    text = context.format(path)
    return [rule.id for rule in ALL_RULES if rule.regex().search(text)]


@settings(max_examples=200, deadline=None)
@given(
    project=_NAME,
    run=_RUN_NAME,
    tail=st.one_of(_FILE, st.sampled_from(RUN_SUBFOLDERS).map(lambda s: s + "/")),
    context=_CONTEXT,
)
def test_every_run_path_without_a_family_is_caught(
    project: str, run: str, tail: str, context: str
) -> None:
    path = f".autonomous_runs/{project}/runs/{run}/{tail}"
    assert "RUN-LAYOUT-NO-FAMILY" in _hits(path, context), path


@settings(max_examples=200, deadline=None)
@given(
    project=_NAME,
    family=st.one_of(_NAME, st.just("<family>")),
    run_id=_RUN_ID,
    tail=st.one_of(st.just(""), _FILE, st.sampled_from(RUN_SUBFOLDERS).map(lambda s: s + "/")),
    context=_CONTEXT,
)
def test_run_paths_with_a_family_and_non_run_paths_are_not_flagged(
    project: str, family: str, run_id: str, tail: str, context: str
) -> None:
    paths = [
        f".autonomous_runs/{project}/runs/{family}/{run_id}/{tail}",
        f".autonomous_runs/{project}/runs/{family}/",
        f".autonomous_runs/{project}/ci/{tail or 'report.xml'}",
        f".autonomous_runs/{project}/locks/{tail}",
        f".autonomous_runs/batch_{project}/{tail}",
        f".autonomous_runs/{project}/batch_{family.strip('<>')}/{tail}",
        ".autonomous_runs/",
    ]
    for path in paths:
        assert _hits(path, context) == [], path


@pytest.mark.parametrize("path", NON_RUN_PATHS)
def test_non_run_paths_trip_no_drift_rule(path: str) -> None:
    assert _hits(path, "Files go to `{}`.") == []
