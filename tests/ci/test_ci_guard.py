"""Under CI the PostgreSQL variants must run: a missing URL fails instead of skipping."""

from __future__ import annotations

import os

from conftest import PG_URL_ENV


def test_postgres_url_is_set_under_ci() -> None:
    if os.environ.get("CI") != "true":
        return
    assert os.environ.get(PG_URL_ENV), (
        f"CI=true but {PG_URL_ENV} is unset: the PostgreSQL tests would be skipped"
    )
