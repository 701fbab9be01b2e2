"""Same key from 8 processes at once, 200 trials, against the real sandbox server.

Each trial: 8 long-lived processes meet at a barrier, then each proposes the same
key (one of them with a different payload), tries to approve what it got back, and
tries to claim and execute it, all interleaving freely. Every trial must give
exactly one effect in the sandbox's own record, exactly one created record, and
every proposer of the payload that lost the race must be refused with
idempotency_conflict.
"""

from __future__ import annotations

import multiprocessing
from collections import Counter, defaultdict
from pathlib import Path

import pytest
import samekey_worker

from sandbox_support import running_sandbox

pytestmark = pytest.mark.slow

PROCESSES = 8
TRIALS = 200


def test_same_key_from_eight_processes(tmp_path: Path, workspace: Path, database_url: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    with running_sandbox(tmp_path / "sbx", mode="lookup_only") as sbx:
        barrier = ctx.Barrier(PROCESSES)
        results = ctx.Queue()
        procs = [
            ctx.Process(
                target=samekey_worker.run,
                args=(i, str(workspace), database_url, sbx.url, TRIALS, barrier, results),
            )
            for i in range(PROCESSES)
        ]
        for p in procs:
            p.start()
        rows = [results.get(timeout=300) for _ in range(PROCESSES * TRIALS)]
        for p in procs:
            p.join(timeout=60)
            assert p.exitcode == 0
        effects = sbx.effects()
    by_trial: dict[int, list[tuple[int, str, str, str, bool]]] = defaultdict(list)
    for trial, index, title, proposed, approved, executed in rows:
        by_trial[trial].append((index, title, proposed, approved, executed))
    assert len(by_trial) == TRIALS
    for trial, entries in by_trial.items():
        created = [e for e in entries if e[2] == "created"]
        assert len(created) == 1, (trial, entries)
        winner_title = created[0][1]
        for _index, title, proposed, _approved, _executed in entries:
            if title == winner_title:
                assert proposed in ("created", "existing"), (trial, entries)
            else:
                assert proposed == "conflict", (trial, entries)
        assert [e[3] for e in entries].count("approved") == 1, (trial, entries)
        assert [e[4] for e in entries].count(True) == 1, (trial, entries)
    per_key = Counter(e["body"]["title"].split(" ")[1] for e in effects)
    assert len(effects) == TRIALS
    assert all(count == 1 for count in per_key.values())
