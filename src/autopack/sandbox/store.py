"""The sandbox's own durable record: every effect it performed and every request it saw.

One SQLite file (WAL, synchronous=FULL): a commit is on disk before the server
writes a single response byte. Creates run under ``BEGIN IMMEDIATE`` and the
idempotency key is UNIQUE, so the same key sent from many processes at once
yields exactly one effect.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from autopack.domain.canonical import format_utc
from autopack.domain.sandbox_protocol import KIND_PREFIX

SCHEMA = """
CREATE TABLE IF NOT EXISTS effects (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    idempotency_key TEXT UNIQUE,
    client_ref TEXT,
    body_hash TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_effects_client_ref ON effects (kind, client_ref);
CREATE TABLE IF NOT EXISTS requests (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at TEXT NOT NULL,
    op TEXT NOT NULL,
    kind TEXT NOT NULL,
    idempotency_key TEXT,
    client_ref TEXT,
    fault TEXT,
    result TEXT NOT NULL,
    effect_id TEXT
);
"""

BUSY_TIMEOUT_SECONDS = 30.0


def _now() -> str:
    return format_utc(datetime.now(UTC))


@dataclass(frozen=True, slots=True)
class Effect:
    """One side effect the sandbox performed."""

    seq: int
    id: str
    kind: str
    idempotency_key: str | None
    client_ref: str | None
    body_hash: str
    body: str
    created_at: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "id": self.id,
            "kind": self.kind,
            "idempotency_key": self.idempotency_key,
            "client_ref": self.client_ref,
            "body_hash": self.body_hash,
            "body": json.loads(self.body),
            "created_at": self.created_at,
        }

    def to_object(self) -> dict[str, Any]:
        """The provider-style object returned to clients."""
        return {
            "id": self.id,
            "object": self.kind[:-1],
            "kind": self.kind,
            "client_ref": self.client_ref,
            "created_at": self.created_at,
            "data": json.loads(self.body),
        }


@dataclass(frozen=True, slots=True)
class CreateResult:
    effect: Effect
    # True when an earlier effect with the same idempotency key was returned.
    replayed: bool = False
    # True when the key was already used with another kind or body: no effect,
    # ``effect`` is the earlier one.
    conflict: bool = False


_SELECT_BY_KEY = (
    "SELECT seq, id, kind, idempotency_key, client_ref, body_hash, body, created_at"
    " FROM effects WHERE idempotency_key = ?"
)
_SELECT_BY_ID = (
    "SELECT seq, id, kind, idempotency_key, client_ref, body_hash, body, created_at"
    " FROM effects WHERE kind = ? AND id = ?"
)
# Numbered parameters: a NULL filter matches everything.
_SELECT_FILTERED = (
    "SELECT seq, id, kind, idempotency_key, client_ref, body_hash, body, created_at"
    " FROM effects WHERE (?1 IS NULL OR kind = ?1) AND (?2 IS NULL OR client_ref = ?2)"
    " AND (?3 IS NULL OR idempotency_key = ?3) ORDER BY seq"
)


def _effect(row: tuple[Any, ...]) -> Effect:
    return Effect(*row)


class SandboxStore:
    """Thread-safe: every operation opens its own connection."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connection() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(SCHEMA)

    @contextlib.contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(
            self.path,
            timeout=BUSY_TIMEOUT_SECONDS,
            isolation_level=None,  # explicit BEGIN/COMMIT below
            check_same_thread=False,
        )
        try:
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_SECONDS * 1000)}")
            yield conn
        finally:
            conn.close()

    @contextlib.contextmanager
    def _immediate(self) -> Iterator[sqlite3.Connection]:
        with self._connection() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @staticmethod
    def _log(
        conn: sqlite3.Connection,
        *,
        op: str,
        kind: str,
        result: str,
        idempotency_key: str | None = None,
        client_ref: str | None = None,
        fault: str | None = None,
        effect_id: str | None = None,
    ) -> None:
        conn.execute(
            "INSERT INTO requests (received_at, op, kind, idempotency_key, client_ref, fault,"
            " result, effect_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (_now(), op, kind, idempotency_key, client_ref, fault, result, effect_id),
        )

    def create(
        self,
        *,
        kind: str,
        body: str,
        body_hash: str,
        client_ref: str | None,
        idempotency_key: str | None,
        fault: str | None = None,
    ) -> CreateResult:
        """Perform one effect, durably; with a key, replay or refuse an earlier one.

        ``idempotency_key`` is None unless the server honours keys (mode idempotent).
        """
        with self._immediate() as conn:
            if idempotency_key is not None:
                row = conn.execute(
                    _SELECT_BY_KEY,
                    (idempotency_key,),
                ).fetchone()
                if row is not None:
                    existing = _effect(row)
                    same = existing.kind == kind and existing.body_hash == body_hash
                    self._log(
                        conn,
                        op="create",
                        kind=kind,
                        result="replayed" if same else "conflict",
                        idempotency_key=idempotency_key,
                        client_ref=client_ref,
                        fault=fault,
                        effect_id=existing.id,
                    )
                    return CreateResult(existing, replayed=same, conflict=not same)
            object_id = f"{KIND_PREFIX[kind]}_{secrets.token_hex(8)}"
            created_at = _now()
            cursor = conn.execute(
                "INSERT INTO effects (id, kind, idempotency_key, client_ref, body_hash, body,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (object_id, kind, idempotency_key, client_ref, body_hash, body, created_at),
            )
            seq = cursor.lastrowid
            if seq is None:  # sqlite3 always sets it after an INSERT
                raise RuntimeError("sqlite3 gave no rowid for an INSERT")
            self._log(
                conn,
                op="create",
                kind=kind,
                result="created",
                idempotency_key=idempotency_key,
                client_ref=client_ref,
                fault=fault,
                effect_id=object_id,
            )
        effect = Effect(
            seq, object_id, kind, idempotency_key, client_ref, body_hash, body, created_at
        )
        return CreateResult(effect)

    def log_request(
        self,
        *,
        op: str,
        kind: str,
        result: str,
        idempotency_key: str | None = None,
        client_ref: str | None = None,
        fault: str | None = None,
    ) -> None:
        """Record a request that performed no effect (refused, faulted, lookup)."""
        with self._immediate() as conn:
            self._log(
                conn,
                op=op,
                kind=kind,
                result=result,
                idempotency_key=idempotency_key,
                client_ref=client_ref,
                fault=fault,
            )

    def get(self, kind: str, object_id: str) -> Effect | None:
        with self._connection() as conn:
            row = conn.execute(
                _SELECT_BY_ID,
                (kind, object_id),
            ).fetchone()
        return None if row is None else _effect(row)

    def find(
        self,
        *,
        kind: str | None = None,
        client_ref: str | None = None,
        idempotency_key: str | None = None,
    ) -> list[Effect]:
        """Effects matching every given filter, oldest first."""
        with self._connection() as conn:
            rows = conn.execute(_SELECT_FILTERED, (kind, client_ref, idempotency_key)).fetchall()
        return [_effect(row) for row in rows]

    def requests(self) -> list[dict[str, Any]]:
        with self._connection() as conn:
            rows = conn.execute(
                "SELECT seq, received_at, op, kind, idempotency_key, client_ref, fault, result,"
                " effect_id FROM requests ORDER BY seq"
            ).fetchall()
        names = (
            "seq",
            "received_at",
            "op",
            "kind",
            "idempotency_key",
            "client_ref",
            "fault",
            "result",
            "effect_id",
        )
        return [dict(zip(names, row, strict=True)) for row in rows]

    def reset(self) -> None:
        """Forget every effect and request (ids are never reused afterwards)."""
        with self._immediate() as conn:
            conn.execute("DELETE FROM effects")
            conn.execute("DELETE FROM requests")
