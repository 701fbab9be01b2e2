from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from autopack.providers.youtube.adapter import YouTubeAdapter
from fakes_support import FakesProcess, running_fakes
from youtube.yt_support import QUANTUM, StaticToken


@pytest.fixture(scope="module")
def fakes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakesProcess]:
    with running_fakes(tmp_path_factory.mktemp("ytfakes"), "youtube") as process:
        yield process


@pytest.fixture
def fake(fakes: FakesProcess) -> FakesProcess:
    fakes.reset()
    return fakes


@pytest.fixture
def media_root(tmp_path: Path) -> Path:
    root = tmp_path / "media"
    root.mkdir()
    return root


@pytest.fixture
def adapter(fake: FakesProcess, media_root: Path) -> Iterator[YouTubeAdapter]:
    with YouTubeAdapter(
        api_url=fake.url,
        chunk_bytes=QUANTUM,
        quota_cost_insert=100,
        quota_cost_list=1,
        credentials=StaticToken(),
        media_root=media_root,
        clock=lambda: datetime(2026, 12, 7, 12, tzinfo=UTC),
        timeout=10.0,
    ) as built:
        yield built
