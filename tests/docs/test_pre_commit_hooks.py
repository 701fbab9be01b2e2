""".pre-commit-hooks.yaml: another repository runs Autopack's checks through pre-commit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml
from docs_support import REPO

HOOKS = [
    "autopack-docs-drift",
    "autopack-docs-links",
    "autopack-docs-summary",
    "autopack-workspace-verify",
]
REGISTRY = """schema_version = 1
[docs]
living = ['**/*.md']
[links]
[[drift_rules]]
id = 'RUN-LAYOUT-NO-FAMILY'
pattern = '\\.autonomous_runs/[^/\\s`]+/runs/[^/\\s`]+/run\\.log'
scope = 'any'
message = 'run path without the <family>/ segment'
fix = 'use .autonomous_runs/<project>/runs/<family>/<run_id>/'
reason = 'runs live under their family'
"""


def test_the_hooks_file_offers_the_four_checks() -> None:
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert [hook["id"] for hook in hooks] == HOOKS
    assert {hook["language"] for hook in hooks} == {"system"}
    assert [hook["entry"] for hook in hooks] == [
        "autopack docs drift",
        "autopack docs links",
        "autopack docs summary --check",
        "autopack workspace verify",
    ]


def _try_repo(root: Path, hook: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    bin_dir = str(Path(sys.executable).parent)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AUTOPACK_", "GIT_"))},
        "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
    }
    return subprocess.run(
        [
            str(Path(bin_dir) / "pre-commit"),
            "try-repo",
            str(REPO),
            hook,
            "--all-files",
            "--verbose",
        ],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_try_repo_runs_the_hooks_on_a_temporary_repository(tmp_path: Path) -> None:
    root = tmp_path / "other"
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "PROJECT_INDEX.toml").write_text(REGISTRY, encoding="utf-8")
    guide = root / "docs" / "GUIDE.md"
    guide.write_text("# Guide\n\nLogs: `.autonomous_runs/acme/runs/nightly/run.log`.\n", "utf-8")
    (root / "README.md").write_text("# Other\n\nSee [the guide](docs/GUIDE.md).\n", "utf-8")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)

    drift = _try_repo(root, "autopack-docs-drift", tmp_path)
    assert drift.returncode == 1, drift.stdout + drift.stderr
    assert "docs/GUIDE.md:3:8: RUN-LAYOUT-NO-FAMILY" in drift.stdout
    links = _try_repo(root, "autopack-docs-links", tmp_path)
    assert links.returncode == 0, links.stdout + links.stderr
    workspace = _try_repo(root, "autopack-workspace-verify", tmp_path)
    assert workspace.returncode == 0, workspace.stdout + workspace.stderr
    assert "workspace: skipped (no workspace section" in workspace.stdout

    guide.write_text("# Guide\n\nLogs: `.autonomous_runs/acme/runs/nightly/<run_id>/`.\n", "utf-8")
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    fixed = _try_repo(root, "autopack-docs-drift", tmp_path)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
