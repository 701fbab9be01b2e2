"""The runtime: everything a service needs, built once from settings.

API and CLI both build one of these; tests build one with their own seams.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from autopack.db.engine import create_db_engine, create_session_factory
from autopack.domain.redaction import Redactor
from autopack.settings import Settings

Clock = Callable[[], datetime]
Entropy = Callable[[int], bytes]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    clock: Clock = field(default=utc_now)
    entropy: Entropy = field(default=os.urandom)

    _secrets: set[str] = field(default_factory=set, init=False, repr=False)
    _secrets_loaded: bool = field(default=False, init=False, repr=False)
    _secrets_loading: bool = field(default=False, init=False, repr=False)
    _redactor: Redactor | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

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

    def redactor(self) -> Redactor:
        """The one redactor of this process: pattern and field rules plus every secret
        the credential store holds or this process has seen. Cached; rebuilt when a
        new secret is noted. Needs the schema at head (it reads the store once)."""
        if not self._secrets_loaded and not self._secrets_loading:
            # While loading, a log line (whose filter asks for this redactor) gets
            # the partial one instead of re-entering the load. Only a load that
            # succeeded counts: a failed one (schema behind) is tried again.
            self._secrets_loading = True
            try:
                # Imported here: the credentials service is built on Runtime (import cycle).
                from autopack.services.credentials import CredentialService

                with CredentialService(self) as service:
                    self.note_secrets(service.known_secrets())
                self._secrets_loaded = True
            finally:
                self._secrets_loading = False
        with self._lock:
            if self._redactor is None:
                self._redactor = Redactor().with_secrets(sorted(self._secrets))
            return self._redactor

    def close(self) -> None:
        self.engine.dispose()


def build_runtime(settings: Settings) -> Runtime:
    engine = create_db_engine(settings.effective_database_url)
    return Runtime(settings=settings, engine=engine, session_factory=create_session_factory(engine))
