"""Run layout: identifiers, run ids, paths."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from autopack.domain.layout import (
    IDENTIFIER_RULE,
    RUN_DIR_TEMPLATE,
    InvalidIdentifierError,
    RunRef,
    embedded_database_path,
    new_run_id,
    validate_identifier,
)

VALID = ["demo", "a", "0", "a.b_c-d", "x" * 64, "2026.q1"]
INVALID = [
    "",
    "x" * 65,
    "../x",
    "a/b",
    "a\\b",
    "..",
    "a..b",
    "-a",
    ".a",
    "_a",
    "A",
    "caf\u00e9",
    "a b",
]


@pytest.mark.parametrize("value", VALID)
def test_valid_identifiers(value: str) -> None:
    assert validate_identifier("project", value) == value


@pytest.mark.parametrize("value", INVALID)
def test_invalid_identifiers_name_the_rule(value: str) -> None:
    with pytest.raises(InvalidIdentifierError) as info:
        validate_identifier("family", value)
    assert info.value.code == "invalid_identifier"
    assert IDENTIFIER_RULE in info.value.message
    assert "invalid family" in info.value.message


@given(st.text(max_size=80))
def test_a_valid_identifier_never_escapes_its_parent(value: str) -> None:
    try:
        validate_identifier("run_id", value)
    except InvalidIdentifierError:
        return
    base = Path("/base")
    assert (base / value).resolve().parent == base.resolve()


def test_run_ids_are_valid_sortable_and_unique() -> None:
    start = datetime(2026, 11, 24, 0, 0, tzinfo=UTC)
    ids = [
        new_run_id(start + timedelta(microseconds=i), bytes([i % 256, 1, 2])) for i in range(500)
    ]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    for run_id in ids:
        validate_identifier("run_id", run_id)
    assert ids[0] == "20261124-000000-000000-000102"


def test_run_id_uses_utc_whatever_the_input_zone() -> None:
    aware = datetime(2026, 1, 1, 5, 0, tzinfo=UTC).astimezone()
    assert new_run_id(aware, b"\x00\x00\x00").startswith("20260101-050000-")


def test_run_ref_paths(tmp_path: Path) -> None:
    ref = RunRef("demo", "publish", "r1")
    assert ref.relative_dir.as_posix() == ".autonomous_runs/demo/runs/publish/r1"
    assert ref.directory(tmp_path) == tmp_path / ".autonomous_runs/demo/runs/publish/r1"
    assert ref.manifest_path(tmp_path).name == "run.json"
    assert ref.artifact_path(tmp_path, "ledger", "actions.json") == (
        tmp_path / ".autonomous_runs/demo/runs/publish/r1/ledger/actions.json"
    )
    with pytest.raises(InvalidIdentifierError):
        ref.artifact_path(tmp_path, "..", "x")
    assert RUN_DIR_TEMPLATE == ".autonomous_runs/<project>/runs/<family>/<run_id>/"


def test_run_ref_validates_every_part() -> None:
    with pytest.raises(InvalidIdentifierError, match="invalid family"):
        RunRef("demo", "a/b", "r1")


def test_embedded_database_cannot_collide_with_a_project(tmp_path: Path) -> None:
    state = embedded_database_path(tmp_path).parent.name
    with pytest.raises(InvalidIdentifierError):
        validate_identifier("project", state)


def test_policy_diff_names_round_trip_and_nothing_else_parses() -> None:
    from autopack.domain.layout import policy_diff_dir, policy_diff_hashes, policy_diff_path

    old, new = "a" * 64, "b" * 64
    path = policy_diff_path(Path("ws"), "youtube", old, new)
    assert path.parent == policy_diff_dir(Path("ws"), "youtube")
    assert path.parent.as_posix() == "ws/.autonomous_runs/_autopack/policy/youtube/diffs"
    assert policy_diff_hashes(path.name) == (old, new)
    for name in (f"{old}-{new}.txt", f"{old}-{new}.diff.tmp", f"{old}.diff", "notes.diff", ""):
        assert policy_diff_hashes(name) is None
    assert policy_diff_hashes(f"{old.upper()}-{new}.diff") is None
