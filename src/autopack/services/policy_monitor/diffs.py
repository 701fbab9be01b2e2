"""Stored policy diffs as artifacts.

Two questions, both answered from what the monitor stored (never by diffing again):

- ``stored_diff_files``: every diff file in the workspace, per provider (run
  memory's corpus: a diff is found by the next index or rebuild);
- ``changes_around``: the changes relevant to some cited snapshots (a run's
  context and briefs): per page, the change that made the earliest cited snapshot
  and every later change of that page, unacknowledged ones included. A reviewer
  sees what was new in the policy the run relied on and what changed since.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from sqlalchemy import select

from autopack.db.engine import read_only
from autopack.domain.layout import policy_diff_dir, policy_diff_hashes, policy_diff_path
from autopack.providers.registry import POLICY_PAGES
from autopack.services.context import Runtime
from autopack.services.fsio import resolves_inside
from autopack.services.policy_monitor.service import SNAPSHOTS

MAX_CHANGES_PER_PAGE: Final = 50  # the newest ones: a page's history is unbounded


@dataclass(frozen=True, slots=True)
class PolicyChange:
    provider: str
    url: str
    old: str
    new: str
    path: Path  # the stored diff file


def stored_diff_files(workspace: Path) -> Iterator[tuple[str, Path]]:
    """``(provider, file)`` of every stored policy diff, by provider and name."""
    for provider in sorted(POLICY_PAGES):
        directory = policy_diff_dir(workspace, provider)
        if not directory.is_dir():
            continue
        for path in sorted(directory.iterdir()):
            if (
                policy_diff_hashes(path.name) is not None
                and path.is_file()
                and resolves_inside(path, directory)
            ):
                yield provider, path


def changes_around(runtime: Runtime, cited: Iterable[tuple[str, str, str]]) -> list[PolicyChange]:
    """The stored changes around the cited ``(provider, url, snapshot hash)``: per
    page, from the change into its earliest cited snapshot on; each pair once."""
    wanted: dict[tuple[str, str], set[str]] = {}
    for provider, url, digest in cited:
        if provider in POLICY_PAGES:
            wanted.setdefault((provider, url), set()).add(digest)
    changes: list[PolicyChange] = []
    with read_only(runtime.engine) as conn:
        for provider, url in sorted(wanted):
            history = conn.execute(
                select(SNAPSHOTS.c.previous_hash, SNAPSHOTS.c.hash)
                .where(SNAPSHOTS.c.provider == provider, SNAPSHOTS.c.url == url)
                .order_by(SNAPSHOTS.c.id)
            ).all()
            starts = [i for i, (_, digest) in enumerate(history) if digest in wanted[provider, url]]
            if not starts:
                continue
            pairs = dict.fromkeys(
                (old, new) for old, new in history[starts[0] :] if old is not None
            )
            for old, new in list(pairs)[-MAX_CHANGES_PER_PAGE:]:
                path = policy_diff_path(runtime.workspace, provider, old, new)
                if path.is_file():
                    changes.append(PolicyChange(provider, url, old, new, path))
    return changes
