"""Health: version, database reachability and schema revision."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from autopack import __version__
from autopack.db.schema import head_revision, schema_status
from autopack.domain.errors import UnavailableError
from autopack.services.context import Runtime


@dataclass(frozen=True, slots=True)
class HealthReport:
    healthy: bool
    database_reachable: bool
    backend: str
    schema_revision: str | None
    schema_head: str
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        database: dict[str, Any] = {
            "reachable": self.database_reachable,
            "backend": self.backend,
            "schema_revision": self.schema_revision,
            "schema_head": self.schema_head,
            "at_head": self.schema_revision == self.schema_head,
        }
        if self.error:
            database["error"] = self.error
        return {
            "status": "ok" if self.healthy else "unavailable",
            "version": __version__,
            "database": database,
        }


def check_health(runtime: Runtime) -> HealthReport:
    backend = runtime.engine.dialect.name
    try:
        status = schema_status(runtime.engine)
    except UnavailableError as exc:
        return HealthReport(False, False, backend, None, head_revision(), exc.message)
    error = None if status.at_head else "schema not at head: run `autopack db upgrade`"
    return HealthReport(status.at_head, True, backend, status.current, status.head, error)
