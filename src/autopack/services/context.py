"""The runtime: everything a service needs, built once from settings.

API and CLI both build one of these; tests build one with their own seams.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from autopack.db.engine import create_db_engine, create_session_factory
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

    @property
    def workspace(self) -> Path:
        return self.settings.workspace_path

    def close(self) -> None:
        self.engine.dispose()


def build_runtime(settings: Settings) -> Runtime:
    engine = create_db_engine(settings.effective_database_url)
    return Runtime(settings=settings, engine=engine, session_factory=create_session_factory(engine))
