"""The credential accessor an adapter factory receives in its ProviderContext:
a fresh access token (refreshed through the store's single-flight protocol and
masked by the runtime's redactor) or a key pair with its host."""

from __future__ import annotations

from datetime import timedelta

import pytest

from autopack.domain.errors import ConfigurationError, InvalidInputError
from autopack.services.context import Runtime
from autopack.services.credentials import CredentialService
from autopack.services.providers import ProviderRegistry
from credentials.cred_support import FakeOAuth, connect


def test_the_accessor_yields_a_fresh_access_token(
    service: CredentialService, fake_oauth: FakeOAuth, cred_runtime: Runtime
) -> None:
    connect(service, fake_oauth, "shopify", "store1")
    providers = ProviderRegistry.for_runtime(cred_runtime)
    try:
        context = providers.context("shopify")
        assert context.settings is cred_runtime.settings
        first = context.credentials.access_token("store1")
        assert first == service.access_token("shopify", "store1")
        assert fake_oauth.counters()["refresh_requests"] == 0
        later = cred_runtime.clock
        cred_runtime.clock = lambda: later() + timedelta(minutes=55)
        second = context.credentials.access_token("store1")
        assert second != first
        assert fake_oauth.counters()["refresh_requests"] == 1
        # The refreshed token is masked by the runtime's one redactor at once.
        assert second not in cred_runtime.redactor().redact_text(f"echo {second}")
        with pytest.raises(InvalidInputError) as info:
            context.credentials.api_key("store1")
        assert info.value.code == "not_an_api_key_provider"
    finally:
        providers.close()


def test_the_accessor_yields_a_key_pair_with_its_host(
    service: CredentialService, cred_runtime: Runtime
) -> None:
    secret = "aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5zA7b"
    service.add_api_key(
        "alpaca", "paper1", key_id="PKX4Q7ZL2M9N0B3V8C1D", secret=secret, environment="paper"
    )
    providers = ProviderRegistry.for_runtime(cred_runtime)
    try:
        credentials = providers.context("alpaca").credentials
        pair = credentials.api_key("paper1")
        assert (pair.key_id, pair.secret_key) == ("PKX4Q7ZL2M9N0B3V8C1D", secret)
        assert pair.host == "https://paper-api.alpaca.markets"
        assert secret not in repr(pair)
        assert "PKX4Q7ZL2M9N0B3V8C1D" not in repr(pair)
        with pytest.raises(InvalidInputError) as info:
            credentials.access_token("paper1")
        assert info.value.code == "not_an_oauth_provider"
    finally:
        providers.close()


def test_a_registry_without_a_store_refuses_credentials_by_name(cred_runtime: Runtime) -> None:
    credentials = ProviderRegistry(cred_runtime.settings).context("shopify").credentials
    with pytest.raises(ConfigurationError) as info:
        credentials.access_token("store1")
    assert info.value.code == "no_credential_store"
    assert "shopify" in info.value.message
    with pytest.raises(ConfigurationError) as info:
        credentials.api_key("store1")
    assert info.value.code == "no_credential_store"
