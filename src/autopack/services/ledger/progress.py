"""Durable dispatch progress: the ledger side of ``DispatchProgress``.

A multi-request adapter (a resumable upload, a draft then its images) calls
``checkpoint`` with every handle it must never lose before it sends anything
that depends on it. Each checkpoint is one compare-and-set of the dispatching
row (status, fencing and lease owner must still match) that stores the state in
``external_actions.progress``, renews the lease and appends a ``progress`` event
recording the note and the state's keys (the values stay internal: an upload
session URI is a capability). A lost lease raises ``LeaseLostError``, so the
adapter stops sending.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from autopack.domain.canonical import JsonValue, canonical_json
from autopack.domain.ledger import ActionStatus
from autopack.services.ledger.store import LedgerStore

MAX_NOTE_CHARS = 200


def stored_progress(row: Mapping[str, Any]) -> dict[str, JsonValue]:
    """The progress state a row holds ({} when no checkpoint was ever written)."""
    text = row.get("progress")
    if not text:
        return {}
    state = json.loads(text)
    return state if isinstance(state, dict) else {}


class LedgerProgress:
    """Checkpoints of one claimed action, written on ``db`` (a driver connection
    with no transaction open) or on a pooled one per checkpoint when None."""

    def __init__(
        self,
        store: LedgerStore,
        row: Mapping[str, Any],
        *,
        owner: str,
        lease_seconds: float,
        clock: Callable[[], datetime],
        db: Any = None,
    ) -> None:
        self._store = store
        self._row = dict(row)
        self._owner = owner
        self._lease_seconds = lease_seconds
        self._clock = clock
        self._db = db
        self._state = stored_progress(row)

    @property
    def state(self) -> Mapping[str, JsonValue]:
        return self._state

    @property
    def row(self) -> dict[str, Any]:
        """The action row after the last checkpoint (its event chain head moved)."""
        return self._row

    def checkpoint(self, state: Mapping[str, JsonValue], *, note: str) -> None:
        if self._db is None:
            with self._store.driver() as db:
                self._write(db, state, note)
        else:
            self._write(self._db, state, note)

    def _write(self, db: Any, state: Mapping[str, JsonValue], note: str) -> None:
        now = self._clock()
        text = canonical_json(dict(state)).decode()
        with self._store.write(db):
            self._row = self._store.move(
                db,
                self._row,
                ActionStatus.DISPATCHING,
                event="progress",
                actor=self._owner,
                now=now,
                data={"note": note[:MAX_NOTE_CHARS], "keys": sorted(state)},
                values={
                    "progress": text,
                    "lease_expires_at": now + timedelta(seconds=self._lease_seconds),
                },
                owner=self._owner,
            )
        self._state = json.loads(text)
