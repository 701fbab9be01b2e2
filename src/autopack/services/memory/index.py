"""Run memory's index: embedded Qdrant Edge by default, a Qdrant server when configured.

Both hold one sparse vector per artifact version (named ``terms``, scored with
Qdrant's IDF modifier) and the same payload, and answer the same three
questions: replace a run's points, search, list every point. The embedded shard
lives in ``<workspace>/.autonomous_runs/_autopack/memory/``; only one process
can hold it open, so each operation opens it, waits (bounded) while another
process holds it, and closes it again.
"""

from __future__ import annotations

import functools
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Protocol

from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import UnavailableError
from autopack.domain.memory import SparseVector

VECTOR_NAME: Final = "terms"
COLLECTION: Final = "autopack_memory"
OPEN_WAIT_SECONDS: Final = 15.0
HOLD_SECONDS: Final = 2.0
INDEXED_FIELDS: Final = ("run", "project")
SERVER_TIMEOUT_SECONDS: Final = 10
# Extra candidates fetched so ties at the cut are broken by path, not by chance.
TIE_MARGIN: Final = 20


@dataclass(frozen=True, slots=True)
class IndexedPoint:
    id: str
    vector: SparseVector
    payload: dict[str, str]


@dataclass(frozen=True, slots=True)
class Hit:
    score: float
    payload: dict[str, str]


class MemoryIndex(Protocol):
    def replace_run(self, run: str, points: Sequence[IndexedPoint]) -> None: ...

    def replace_runs(self, runs: Mapping[str, Sequence[IndexedPoint]]) -> None: ...

    def reset(self) -> None: ...

    def search(
        self, vector: SparseVector, limit: int, *, project: str | None, exclude_run: str | None
    ) -> list[Hit]: ...

    def points(self) -> list[IndexedPoint]: ...


def ranked(hits: list[Hit], limit: int) -> list[Hit]:
    """Best first; equal scores in path order, so every engine agrees."""
    hits.sort(key=lambda h: (-h.score, h.payload["run"], h.payload["path"]))
    return hits[:limit]


def _unavailable(what: str, exc: BaseException) -> UnavailableError:
    return UnavailableError(
        f"run memory unavailable ({what}): {type(exc).__name__}: {str(exc)[:200]}",
        code=ErrorCode.MEMORY_UNAVAILABLE,
    )


class EmbeddedIndex:
    """Qdrant Edge in the workspace (``qdrant-edge-py``).

    Opening the shard costs a fraction of a second, and only one process may hold
    it: the shard stays open while operations follow each other, is released
    ``hold_seconds`` after the last one (or at ``close``), and an operation that
    finds another process holding it waits up to ``wait_seconds``.
    """

    def __init__(
        self,
        path: Path,
        *,
        wait_seconds: float = OPEN_WAIT_SECONDS,
        hold_seconds: float = HOLD_SECONDS,
    ) -> None:
        self.path = path
        self.wait_seconds = wait_seconds
        self.hold_seconds = hold_seconds
        self._shard: Any = None
        self._timer: threading.Timer | None = None
        # One operation at a time in this process; the engine's own lock keeps others out.
        self._lock = threading.RLock()

    def _config(self) -> Any:
        import qdrant_edge as edge

        return edge.EdgeConfig(
            sparse_vectors={VECTOR_NAME: edge.EdgeSparseVectorParams(modifier=edge.Modifier.Idf)}
        )

    def _open(self) -> Any:
        import qdrant_edge as edge

        if not (self.path / "edge_config.json").exists():
            self.path.mkdir(parents=True, exist_ok=True)
            shard = edge.EdgeShard.create(str(self.path), self._config())
            # Keyword indexes: replacing a run and filtering by project stay fast.
            for name in INDEXED_FIELDS:
                shard.update(
                    edge.UpdateOperation.create_field_index(name, edge.PayloadSchemaType.Keyword)
                )
            return shard
        return edge.EdgeShard.load(str(self.path))

    def _open_waiting(self) -> Any:
        deadline = time.monotonic() + self.wait_seconds
        while True:
            try:
                return self._open()
            except Exception as exc:
                if "WouldBlock" not in str(exc) or time.monotonic() > deadline:
                    raise _unavailable(f"embedded index {self.path.name}", exc) from exc
                time.sleep(0.05)  # another process holds the shard

    @contextmanager
    def shard(self) -> Iterator[Any]:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if self._shard is None:
                self._shard = self._open_waiting()
            try:
                yield self._shard
                self._shard.flush()
            finally:
                self._schedule_release()

    def _schedule_release(self) -> None:
        if self.hold_seconds <= 0:
            self._release()
            return
        self._timer = threading.Timer(self.hold_seconds, self._release)
        self._timer.daemon = True
        self._timer.start()

    def _release(self) -> None:
        with self._lock:
            if self._shard is not None:
                self._shard.close()
                self._shard = None

    def close(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._release()

    def replace_run(self, run: str, points: Sequence[IndexedPoint]) -> None:
        self.replace_runs({run: points})

    def replace_runs(self, runs: Mapping[str, Sequence[IndexedPoint]]) -> None:
        """Make each run's points exactly ``points``: unchanged ones stay untouched."""
        import qdrant_edge as edge

        deleted = False
        with self.shard() as shard:
            for run, points in runs.items():
                existing = self._ids(shard, run)
                gone: list[int | uuid.UUID | str] = sorted(existing - {p.id for p in points})
                if gone:
                    shard.update(edge.UpdateOperation.delete_points(gone))
                    deleted = True
                new = [_edge_point(p) for p in points if p.id not in existing]
                if new:
                    shard.update(edge.UpdateOperation.upsert_points(new))
        if deleted:
            # Deleted points still count in the IDF until the shard is loaded again:
            # reload, so the ranking depends on the live points only, never on when
            # this process last opened the shard.
            self.close()

    def _ids(self, shard: Any, run: str) -> set[str]:
        import qdrant_edge as edge

        ids: set[str] = set()
        offset = None
        while True:
            records, offset = shard.scroll(
                edge.ScrollRequest(
                    offset=offset,
                    limit=1000,
                    filter=_edge_filter(run=run),
                    with_payload=False,
                    with_vector=False,
                )
            )
            ids.update(str(r.id) for r in records)
            if offset is None:
                return ids

    def reset(self) -> None:
        with self._lock:
            self.close()
            if self.path.exists():
                shutil.rmtree(self.path)

    def search(
        self, vector: SparseVector, limit: int, *, project: str | None, exclude_run: str | None
    ) -> list[Hit]:
        import qdrant_edge as edge

        if not vector.indices:
            return []
        with self.shard() as shard:
            found = shard.query(
                edge.QueryRequest(
                    limit=limit + TIE_MARGIN,
                    query=edge.Query.Nearest(
                        edge.SparseVector(list(vector.indices), list(vector.values)),
                        using=VECTOR_NAME,
                    ),
                    with_payload=True,
                    filter=_edge_filter(project=project, exclude_run=exclude_run),
                )
            )
        return ranked([Hit(float(p.score), dict(p.payload)) for p in found], limit)

    def points(self) -> list[IndexedPoint]:
        import qdrant_edge as edge

        out: list[IndexedPoint] = []
        with self.shard() as shard:
            offset = None
            while True:
                records, offset = shard.scroll(
                    edge.ScrollRequest(
                        limit=1000, offset=offset, with_payload=True, with_vector=True
                    )
                )
                for r in records:
                    v = r.vector[VECTOR_NAME]
                    out.append(
                        IndexedPoint(
                            str(r.id),
                            SparseVector(tuple(v.indices), tuple(float(x) for x in v.values)),
                            dict(r.payload),
                        )
                    )
                if offset is None:
                    break
        return sorted(out, key=lambda p: p.id)


def _edge_point(point: IndexedPoint) -> Any:
    import qdrant_edge as edge

    vector = edge.SparseVector(list(point.vector.indices), list(point.vector.values))
    return edge.Point(point.id, {VECTOR_NAME: vector}, point.payload)


def _edge_filter(
    *, run: str | None = None, project: str | None = None, exclude_run: str | None = None
) -> Any:
    import qdrant_edge as edge

    must: list[Any] = []
    if run is not None:
        must.append(edge.FieldCondition(key="run", match=edge.MatchValue(run)))
    if project is not None:
        must.append(edge.FieldCondition(key="project", match=edge.MatchValue(project)))
    must_not: list[Any] | None = (
        [edge.FieldCondition(key="run", match=edge.MatchValue(exclude_run))]
        if exclude_run is not None
        else None
    )
    if not must and not must_not:
        return None
    return edge.Filter(must=must or None, must_not=must_not)


class ServerIndex:
    """A Qdrant server (``AUTOPACK_QDRANT_URL``), through ``qdrant-client``."""

    def __init__(self, client: Any, collection: str = COLLECTION) -> None:
        self.client = client
        self.collection = collection
        self._ready = False

    @classmethod
    def for_url(cls, url: str) -> ServerIndex:
        from qdrant_client import QdrantClient

        # No version probe: it runs in a background thread at construction, and a
        # server that is down is reported by the first real call instead.
        return cls(QdrantClient(url=url, timeout=SERVER_TIMEOUT_SECONDS, check_compatibility=False))

    def _call(self, what: str, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except Exception as exc:
            raise _unavailable(f"server, {what}", exc) from exc

    def _ensure(self) -> None:
        if self._ready:
            return
        from qdrant_client import models

        if not self._call("collection", lambda: self.client.collection_exists(self.collection)):
            self._call(
                "create collection",
                lambda: self.client.create_collection(
                    self.collection,
                    vectors_config={},
                    sparse_vectors_config={
                        VECTOR_NAME: models.SparseVectorParams(modifier=models.Modifier.IDF)
                    },
                ),
            )
            for name in INDEXED_FIELDS:
                self._call(
                    "create index",
                    functools.partial(
                        self.client.create_payload_index,
                        self.collection,
                        name,
                        models.PayloadSchemaType.KEYWORD,
                    ),
                )
        self._ready = True

    def replace_runs(self, runs: Mapping[str, Sequence[IndexedPoint]]) -> None:
        for run, points in runs.items():
            self.replace_run(run, points)

    def replace_run(self, run: str, points: Sequence[IndexedPoint]) -> None:
        from qdrant_client import models

        self._ensure()
        existing = self._ids(run)
        gone = sorted(existing - {p.id for p in points})
        if gone:
            self._call(
                "delete",
                functools.partial(
                    self.client.delete,
                    self.collection,
                    points_selector=models.PointIdsList(points=list(gone)),
                ),
            )
        structs = [
            models.PointStruct(
                id=p.id,
                vector={
                    VECTOR_NAME: models.SparseVector(
                        indices=list(p.vector.indices), values=list(p.vector.values)
                    )
                },
                payload=p.payload,
            )
            for p in points
            if p.id not in existing
        ]
        if structs:
            self._call("upsert", functools.partial(self.client.upsert, self.collection, structs))

    def _ids(self, run: str) -> set[str]:
        ids: set[str] = set()
        offset = None
        while True:
            records, offset = self._call(
                "scroll",
                functools.partial(
                    self.client.scroll,
                    self.collection,
                    scroll_filter=_server_filter(run=run),
                    limit=1000,
                    offset=offset,
                    with_payload=False,
                    with_vectors=False,
                ),
            )
            ids.update(str(r.id) for r in records)
            if offset is None:
                return ids

    def reset(self) -> None:
        self._call("reset", lambda: self.client.delete_collection(self.collection))
        self._ready = False

    def search(
        self, vector: SparseVector, limit: int, *, project: str | None, exclude_run: str | None
    ) -> list[Hit]:
        from qdrant_client import models

        if not vector.indices:
            return []
        self._ensure()
        response = self._call(
            "search",
            lambda: self.client.query_points(
                self.collection,
                query=models.SparseVector(indices=list(vector.indices), values=list(vector.values)),
                using=VECTOR_NAME,
                query_filter=_server_filter(project=project, exclude_run=exclude_run),
                limit=limit + TIE_MARGIN,
                with_payload=True,
            ),
        )
        return ranked([Hit(float(p.score), dict(p.payload or {})) for p in response.points], limit)

    def points(self) -> list[IndexedPoint]:
        self._ensure()
        out: list[IndexedPoint] = []
        offset = None
        while True:
            records, offset = self._call(
                "scroll",
                functools.partial(
                    self.client.scroll,
                    self.collection,
                    limit=1000,
                    offset=offset,
                    with_payload=True,
                    with_vectors=True,
                ),
            )
            for r in records:
                v = r.vector[VECTOR_NAME]
                out.append(
                    IndexedPoint(
                        str(r.id),
                        SparseVector(tuple(v.indices), tuple(float(x) for x in v.values)),
                        dict(r.payload or {}),
                    )
                )
            if offset is None:
                break
        return sorted(out, key=lambda p: p.id)

    def close(self) -> None:
        self.client.close()


def _server_filter(
    *, run: str | None = None, project: str | None = None, exclude_run: str | None = None
) -> Any:
    from qdrant_client import models

    must: list[Any] = []
    if run is not None:
        must.append(models.FieldCondition(key="run", match=models.MatchValue(value=run)))
    if project is not None:
        must.append(models.FieldCondition(key="project", match=models.MatchValue(value=project)))
    must_not: list[Any] | None = (
        [models.FieldCondition(key="run", match=models.MatchValue(value=exclude_run))]
        if exclude_run is not None
        else None
    )
    if not must and not must_not:
        return None
    return models.Filter(must=must or None, must_not=must_not)
