"""The runtime: everything a service needs, built once from settings.

API and CLI both build one of these through ``services.runtime.build_runtime``
(which wires in the credential store); tests build one with their own seams.
This module imports no service: the secrets the runtime's redactor masks come
from the ``stored_secrets`` callable it is given.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from autopack.db.engine import create_db_engine, create_session_factory
from autopack.domain.redaction import Redactor
from autopack.providers.registry import DEFAULT_REDACTOR
from autopack.settings import Settings

Clock = Callable[[], datetime]
Entropy = Callable[[int], bytes]
# Every secret the runtime's credential store holds (read once, when first needed).
SecretSource = Callable[["Runtime"], Iterable[str]]
# A value that changes whenever the store's secrets change (any process).
# Optionally on a driver connection the caller holds with no transaction open.
SecretFingerprint = Callable[["Runtime", Any], Hashable]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    clock: Clock = field(default=utc_now)
    entropy: Entropy = field(default=os.urandom)
    # Required: a runtime that forgot its store would leave stored secrets unmasked.
    stored_secrets: SecretSource = field(kw_only=True, repr=False)
    # Read before each redaction: a secret another process stored since the last
    # load is loaded (and masked) before this process writes anything again.
    secrets_fingerprint: SecretFingerprint | None = field(default=None, kw_only=True, repr=False)

    _fingerprint: Hashable = field(default=None, init=False, repr=False)
    _secrets: set[str] = field(default_factory=set, init=False, repr=False)
    _secrets_loaded: bool = field(default=False, init=False, repr=False)
    _secrets_loading: bool = field(default=False, init=False, repr=False)
    _secrets_load_failed: bool = field(default=False, init=False, repr=False)
    _redactor: Redactor | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    # Re-entrant: a log line written while the store loads asks for the redactor again.
    _load_lock: threading.RLock = field(default_factory=threading.RLock, init=False, repr=False)

    @property
    def workspace(self) -> Path:
        return self.settings.workspace_path

    def note_secrets(self, values: Iterable[str]) -> None:
        """Secrets this process has seen (stored, refreshed, decrypted): masked from now on."""
        with self._lock:
            new = {value for value in values if value} - self._secrets
            if new:
                self._secrets |= new
                self._redactor = None

    def redactor(self, *, db: Any = None) -> Redactor:
        """The one redactor of this process: pattern and field rules plus every secret
        the credential store holds or this process has seen. Cached; rebuilt when a
        new secret is noted, and reloaded when the store's fingerprint shows that
        another process stored a secret. Needs the schema at head."""
        probe = self.secrets_fingerprint
        if self._secrets_loaded and probe is not None and probe(self, db) != self._fingerprint:
            with self._load_lock:
                self._secrets_loaded = False
        if not self._secrets_loaded:
            self._load_stored_secrets()
        return self._current_redactor()

    def log_redactor(self) -> Redactor:
        """The redactor for log records: never raises, so a log line cannot fail.

        Until the store could be read once (a schema behind head has no secrets to
        read), it is the rules plus the secrets noted so far; services calling
        ``redactor`` retry the load, and log lines get the full one after that."""
        if not self._secrets_loaded and not self._secrets_load_failed:
            try:
                self._load_stored_secrets()
            except Exception:  # noqa: BLE001 - logging must not raise; see the docstring
                self._secrets_load_failed = True
        return self._current_redactor()

    def _load_stored_secrets(self) -> None:
        # Other threads wait here, so none gets a redactor without the stored
        # secrets while the load runs; a log line from inside the load (same
        # thread) gets the partial one instead of loading again. Only a load that
        # succeeded counts: a failed one (schema behind) is tried again.
        with self._load_lock:
            if self._secrets_loaded or self._secrets_loading:
                return
            self._secrets_loading = True
            try:
                # Read before the secrets: a change between the two reloads again.
                if self.secrets_fingerprint is not None:
                    self._fingerprint = self.secrets_fingerprint(self, None)
                self.note_secrets(self.stored_secrets(self))
                self._secrets_loaded = True
                self._secrets_load_failed = False
            finally:
                self._secrets_loading = False

    def _current_redactor(self) -> Redactor:
        with self._lock:
            if self._redactor is None:
                self._redactor = DEFAULT_REDACTOR.with_secrets(sorted(self._secrets))
            return self._redactor

    def close(self) -> None:
        self.engine.dispose()


def runtime_for(
    settings: Settings,
    *,
    stored_secrets: SecretSource,
    secrets_fingerprint: SecretFingerprint | None = None,
) -> Runtime:
    """A runtime on ``settings``' database; see ``services.runtime.build_runtime``."""
    engine = create_db_engine(settings.effective_database_url)
    return Runtime(
        settings=settings,
        engine=engine,
        session_factory=create_session_factory(engine),
        stored_secrets=stored_secrets,
        secrets_fingerprint=secrets_fingerprint,
    )
