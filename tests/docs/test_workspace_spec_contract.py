"""docs/WORKSPACE_ORGANIZATION_SPEC.md lists exactly the registry's top-level entries."""

from __future__ import annotations

import re

from docs_support import read, registry

SPEC = "docs/WORKSPACE_ORGANIZATION_SPEC.md"


def test_top_level_table_equals_the_registry() -> None:
    section = read(SPEC).split("## Repository root", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([^`]+)` \|", section, flags=re.MULTILINE)
    workspace = registry().workspace
    assert workspace is not None
    assert rows == workspace.top_level


def test_every_governed_directory_is_described() -> None:
    section = read(SPEC).split("## Directories", 1)[1].split("\n## ", 1)[0]
    described = re.findall(r"^- `([^`]+/)`:", section, flags=re.MULTILINE)
    workspace = registry().workspace
    assert workspace is not None
    assert described == list(workspace.directories)
