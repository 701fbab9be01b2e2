"""docs/CONFIG_GUIDE.md documents the project policy file's fields and the sandbox's
control API exactly as the code has them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
from docs_support import read

from autopack.domain.approvals import POLICY_KEYS, ProjectPolicy
from autopack.domain.errors import InvalidInputError
from sandbox_support import running_sandbox

GUIDE = "docs/CONFIG_GUIDE.md"


def _section(title: str) -> str:
    return read(GUIDE).split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def _table_first_cells(section: str) -> list[str]:
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return [row.split("|")[1].strip() for row in rows]


def test_documented_policy_fields_are_the_accepted_fields() -> None:
    documented = {cell.strip("`") for cell in _table_first_cells(_section("Project policy files"))}
    assert documented == set(POLICY_KEYS)
    for key in POLICY_KEYS:
        assert f"`{key}`" in _section("Project policy files")


def test_documented_policy_example_is_accepted_and_other_fields_refused() -> None:
    section = _section("Project policy files")
    example = section.split("```json\n", 1)[1].split("```", 1)[0]
    policy = ProjectPolicy.from_json(json.loads(example))
    assert policy.allow_self_approval
    assert not policy.may_auto_approve("sandbox", "video.upload")
    with pytest.raises(InvalidInputError):
        ProjectPolicy.from_json({"schema": "autopack.policy/1", "two_person": True})


def test_documented_sandbox_control_routes_answer(tmp_path: Path) -> None:
    section = _section("Sandbox provider")
    routes = re.findall(r"`(GET|POST|DELETE) (/_control/[a-z]+)`", section)
    assert ("GET", "/_control/effects") in routes
    with running_sandbox(tmp_path / "sbx") as sandbox:
        for method, path in routes:
            if method == "GET":
                sandbox.control("GET", path.removeprefix("/_control"))
        made = httpx.post(f"{sandbox.url}/v1/videos", json={"title": "x"}, timeout=10)
        assert made.status_code == 201, made.text
        effects = sandbox.control("GET", "/effects", kind="videos")
        assert effects["count"] == 1
        # The documented effect fields are the ones the server sends.
        documented = section.split("Each effect has", 1)[1].split(".", 1)[0]
        assert set(re.findall(r"`([a-z_]+)`", documented)) == set(effects["effects"][0])
        assert sandbox.control("POST", "/reset")["status"] == "reset"
        assert sandbox.control("GET", "/effects") == {"effects": [], "count": 0}
