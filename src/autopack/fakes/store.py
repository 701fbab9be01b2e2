"""The fakes' durable store: one SQLite file (fsync on every commit) and a
directory of blobs (uploaded media), next to it.

Objects are JSON documents keyed by (provider, kind, id); ``seq`` keeps their
creation order. Every write commits before it returns, so a fake that answers
only after writing never acknowledges an effect a crash could lose.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    provider TEXT NOT NULL,
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (provider, kind, id)
);
CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""


class FakeStore:
    """Thread-safe: the host serves requests on threads, and writes take one lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.blob_dir = path.with_name(path.name + ".blobs")
        self.blob_dir.mkdir(exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic write (several objects at once); committed when the block ends."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def next_value(self, name: str) -> int:
        """A durable counter (ids that never repeat across restarts)."""
        with self.transaction() as db:
            row = db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
            value = (row[0] if row else 0) + 1
            db.execute(
                "INSERT INTO counters (name, value) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                (name, value),
            )
        return value

    def put(self, provider: str, kind: str, object_id: str, data: dict[str, Any]) -> None:
        """Create or replace one object (its creation order is kept on replace)."""
        text = json.dumps(data, separators=(",", ":"), sort_keys=True)
        with self.transaction() as db:
            row = db.execute(
                "SELECT seq FROM objects WHERE provider = ? AND kind = ? AND id = ?",
                (provider, kind, object_id),
            ).fetchone()
            if row is None:
                seq = db.execute("SELECT coalesce(max(seq), 0) + 1 FROM objects").fetchone()[0]
                db.execute(
                    "INSERT INTO objects (provider, kind, id, seq, data) VALUES (?, ?, ?, ?, ?)",
                    (provider, kind, object_id, seq, text),
                )
            else:
                db.execute(
                    "UPDATE objects SET data = ? WHERE provider = ? AND kind = ? AND id = ?",
                    (text, provider, kind, object_id),
                )

    def get(self, provider: str, kind: str, object_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT data FROM objects WHERE provider = ? AND kind = ? AND id = ?",
                (provider, kind, object_id),
            ).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def all(self, provider: str, kind: str | None = None) -> list[dict[str, Any]]:
        """Objects of ``provider`` (of one ``kind``), oldest first."""
        with self._lock:
            if kind is None:
                rows = self._db.execute(
                    "SELECT data FROM objects WHERE provider = ? ORDER BY seq", (provider,)
                ).fetchall()
            else:
                rows = self._db.execute(
                    "SELECT data FROM objects WHERE provider = ? AND kind = ? ORDER BY seq",
                    (provider, kind),
                ).fetchall()
        return [dict(json.loads(r[0])) for r in rows]

    def find(
        self, provider: str, kind: str, where: Callable[[dict[str, Any]], bool]
    ) -> list[dict[str, Any]]:
        return [o for o in self.all(provider, kind) if where(o)]

    def delete(self, provider: str, kind: str, object_id: str) -> bool:
        with self.transaction() as db:
            cursor = db.execute(
                "DELETE FROM objects WHERE provider = ? AND kind = ? AND id = ?",
                (provider, kind, object_id),
            )
        return cursor.rowcount == 1

    def reset(self) -> None:
        """Forget every object, counter and blob (the control API's reset)."""
        with self.transaction() as db:
            db.execute("DELETE FROM objects")
            db.execute("DELETE FROM counters")
        for blob in self.blob_dir.iterdir():
            blob.unlink()

    # -- blobs (uploaded media) --------------------------------------------------------

    def blob_path(self, provider: str, name: str) -> Path:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in f"{provider}-{name}")
        return self.blob_dir / safe

    def append_blob(self, path: Path, chunks: Iterator[bytes]) -> int:
        """Append ``chunks`` to the blob at ``path`` and fsync it; the bytes written."""
        written = 0
        with path.open("ab") as out:
            for chunk in chunks:
                out.write(chunk)
                written += len(chunk)
            out.flush()
            os.fsync(out.fileno())
        return written
