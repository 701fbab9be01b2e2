"""Run-memory benchmark: prints one JSON line.

Indexes a seeded synthetic corpus of artifacts (10,000 by default: texts of
60 to 400 words drawn from a Zipf-like vocabulary, ten artifacts per run) into
the embedded Qdrant Edge index, the way ``MemoryService`` does (Autopack's own
sparse vectors, one index update per batch of runs), then answers seeded
queries of two to six words.

- index_per_s: artifacts per second, vectors included (computed here, as the
  service does, then written in batches of runs).
- search_p50_ms / search_p99_ms: one search (query vector, index query, ranking)
  on the open index; the target is p50 < 100 ms at 10,000 artifacts.
- open_ms: opening the embedded index from disk (paid once per process, or
  after the index was idle; see ``services.memory.index``).
- rebuilt_equal: the index rebuilt into a fresh directory holds the same points.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from pathlib import Path

from autopack.domain.canonical import sha256_hex
from autopack.domain.memory import document_vector, point_id, query_vector
from autopack.services.memory.index import EmbeddedIndex, IndexedPoint

SEED = 20261124
ARTIFACTS_PER_RUN = 10
QUERIES = 200


def vocabulary(rng: random.Random, size: int = 6000) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return ["".join(rng.choice(letters) for _ in range(rng.randint(3, 10))) for _ in range(size)]


def corpus(count: int, rng: random.Random, words: list[str]) -> list[tuple[str, str, str]]:
    """(run key, run-relative path, text) per artifact."""
    weights = [1.0 / (rank + 1) for rank in range(len(words))]
    out = []
    for i in range(count):
        run = f"bench/research/run-{i // ARTIFACTS_PER_RUN:05d}"
        path = f"handoff/briefs/{i:05d}.md"
        text = " ".join(rng.choices(words, weights, k=rng.randint(60, 400)))
        out.append((run, path, text))
    return out


def points_of(items: list[tuple[str, str, str]]) -> dict[str, list[IndexedPoint]]:
    runs: dict[str, list[IndexedPoint]] = {}
    for run, path, text in items:
        digest = sha256_hex(text.encode("utf-8"))
        project, family, run_id = run.split("/")
        payload = {
            "run": run,
            "project": project,
            "family": family,
            "run_id": run_id,
            "kind": "brief",
            "path": path,
            "sha256": digest,
        }
        point = IndexedPoint(point_id(f"{run}/{path}", digest), document_vector(text), payload)
        runs.setdefault(run, []).append(point)
    return runs


def index_all(index: EmbeddedIndex, runs: dict[str, list[IndexedPoint]]) -> None:
    batch: dict[str, list[IndexedPoint]] = {}
    for run, points in runs.items():
        batch[run] = points
        if len(batch) >= 200:
            index.replace_runs(batch)
            batch = {}
    if batch:
        index.replace_runs(batch)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--artifacts", type=int, default=10_000, help="corpus size")
    args = parser.parse_args()
    rng = random.Random(SEED)
    words = vocabulary(rng)
    items = corpus(args.artifacts, rng, words)
    queries = [" ".join(rng.choices(words[:2000], k=rng.randint(2, 6))) for _ in range(QUERIES)]
    with tempfile.TemporaryDirectory() as tmp:
        index = EmbeddedIndex(Path(tmp) / "memory", hold_seconds=60)
        started = time.perf_counter()
        runs = points_of(items)
        index_all(index, runs)
        index_seconds = time.perf_counter() - started
        latencies = []
        hits = 0
        for text in queries:
            t0 = time.perf_counter()
            found = index.search(query_vector(text), 10, project=None, exclude_run=None)
            latencies.append(time.perf_counter() - t0)
            hits += bool(found)
        stored = index.points()
        index.close()
        t0 = time.perf_counter()
        with index.shard():
            open_seconds = time.perf_counter() - t0
        index.close()
        rebuilt = EmbeddedIndex(Path(tmp) / "rebuilt", hold_seconds=60)
        index_all(rebuilt, points_of(items))
        rebuilt_equal = rebuilt.points() == stored
        rebuilt.close()
    latencies.sort()
    result = {
        "artifacts": args.artifacts,
        "index_per_s": round(args.artifacts / index_seconds),
        "search_p50_ms": round(statistics.median(latencies) * 1000, 3),
        "search_p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 3),
        "queries": len(queries),
        "queries_with_hits": hits,
        "open_ms": round(open_seconds * 1000, 1),
        "rebuilt_equal": rebuilt_equal,
        "engine": "qdrant-edge-py (embedded)",
    }
    print(json.dumps(result, sort_keys=True), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
