from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from autopack.services.context import Runtime
from autopack.services.credentials import CredentialService, RefreshPolicy
from autopack.services.runtime import build_runtime
from autopack.settings import Settings
from credentials.cred_support import API_KEY, SECRET_KEY, FakeOAuth, fake_oauth_process

FAST_POLICY = RefreshPolicy(
    max_attempts=4, initial_backoff=0.01, max_backoff=0.05, request_timeout=5.0, wait_timeout=20.0
)


@pytest.fixture(scope="session")
def fake_oauth_server() -> Iterator[FakeOAuth]:
    with fake_oauth_process() as server:
        yield server


@pytest.fixture
def fake_oauth(fake_oauth_server: FakeOAuth) -> FakeOAuth:
    fake_oauth_server.reset()
    return fake_oauth_server


@pytest.fixture
def cred_settings(workspace: Path, database_url: str, fake_oauth: FakeOAuth) -> Settings:
    return Settings(
        _env_file=None,
        workspace=workspace,
        database_url=database_url,
        api_key=API_KEY,
        secret_key=SECRET_KEY,
        oauth_server_url=fake_oauth.url,
    )


@pytest.fixture
def cred_runtime(cred_settings: Settings) -> Iterator[Runtime]:
    rt = build_runtime(cred_settings)
    yield rt
    rt.close()


@pytest.fixture
def service(cred_runtime: Runtime) -> Iterator[CredentialService]:
    with CredentialService(cred_runtime, policy=FAST_POLICY) as svc:
        yield svc
