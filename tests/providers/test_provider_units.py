"""Every registered provider is one self-contained unit that declares every part,
and everything provider-specific is found through the one registry list."""

from __future__ import annotations

import dataclasses
import importlib
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from autopack.api.errors import http_status
from autopack.cli._common import EXIT_BAD_INPUT, exit_code
from autopack.domain.credentials import ApiKeyProfile, OAuthProfile
from autopack.domain.ledger import ActionCategory
from autopack.domain.ledger import action_category as domain_action_category
from autopack.domain.providers import InMemoryProgress, Intent, Outcome, ProviderAdapter
from autopack.domain.redaction import GENERIC_RULES, PatternRule
from autopack.providers import registry
from autopack.providers.unit import ProviderContext, ProviderUnit
from autopack.services.providers import (
    NoCredentialStore,
    ProviderNotAvailableError,
    ProviderRegistry,
    UnknownProviderError,
)
from autopack.settings import Settings

UNITS = {unit.name: unit for unit in registry.PROVIDERS}
PROVIDERS_DIR = Path(registry.__file__).parent

# The actions issue 12 names for the real providers (their adapters come later).
REAL_ACTIONS = {
    "youtube": {"video.upload"},
    "etsy": {"listing.create"},
    "shopify": {"product.upsert", "inventory.adjust", "metafields.set"},
    "alpaca": {
        "order.submit",
        "order.cancel",
        "orders.cancel_all",
        "positions.close_all",
        "account.suspend_trading",
    },
}


def _settings(tmp_path: Path) -> Settings:
    return Settings(_env_file=None, workspace=tmp_path)


def test_every_part_is_a_required_field() -> None:
    """A unit cannot leave a part out: no field has a default, so a declaration
    must say ``adapter_factory=None`` or ``credential_profile=None`` explicitly."""
    fields = dataclasses.fields(ProviderUnit)
    assert {f.name for f in fields} == {
        "name",
        "title",
        "adapter_factory",
        "credential_profile",
        "actions",
        "redaction_rules",
        "settings",
        "wire",
        "packet",
        "policy_pages",
    }
    assert all(
        f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        for f in fields
    )


@pytest.mark.parametrize("name", sorted(UNITS))
def test_each_provider_is_one_package_declaring_every_part(name: str, tmp_path: Path) -> None:
    unit = UNITS[name]
    package = importlib.import_module(f"autopack.providers.{name}")
    assert package.UNIT is unit
    assert Path(package.__file__ or "").parent == PROVIDERS_DIR / name
    assert unit.title
    # Adapter factory or an explicit None.
    if unit.adapter_factory is not None:
        registry_service = ProviderRegistry(_settings(tmp_path))
        adapter = unit.adapter_factory(registry_service.context(name))
        try:
            assert isinstance(adapter, ProviderAdapter)
            assert adapter.name == name
            assert adapter.actions == frozenset(unit.actions)
        finally:
            getattr(adapter, "close", lambda: None)()
    # Credential profile or an explicit None.
    profile = unit.credential_profile
    assert profile is None or isinstance(profile, OAuthProfile | ApiKeyProfile)
    if profile is not None:
        assert profile.provider == name
    if isinstance(profile, OAuthProfile):
        assert f"{name}_client_id" in unit.settings  # read by the connect flow
    # Catalogue with valid categories.
    assert unit.actions
    assert all(isinstance(c, ActionCategory) for c in unit.actions.values())
    # Redaction rules (a tuple, possibly empty) and settings that exist.
    assert isinstance(unit.redaction_rules, tuple)
    assert all(isinstance(rule, PatternRule) for rule in unit.redaction_rules)
    assert all(s in Settings.model_fields for s in unit.settings)
    # No provider setting lives outside its unit.
    prefixed = {f for f in Settings.model_fields if f.startswith(f"{name}_")}
    assert prefixed <= set(unit.settings)


def test_the_registry_lists_every_provider_package() -> None:
    packages = sorted(
        p.name for p in PROVIDERS_DIR.iterdir() if p.is_dir() and (p / "__init__.py").exists()
    )
    assert packages == sorted(UNITS)
    assert next(u.name for u in registry.PROVIDERS) == "sandbox"


def test_real_providers_declare_the_issue_12_actions_with_the_word_rule_categories() -> None:
    for name, actions in REAL_ACTIONS.items():
        unit = UNITS[name]
        assert set(unit.actions) == actions
        # No adapter yet, or a real one that describes the wire of every action.
        assert unit.adapter_factory is None or set(unit.wire) == actions
        if unit.adapter_factory is not None:
            # A real adapter (no placeholder): it serves exactly the declared actions.
            adapter = ProviderRegistry(Settings(_env_file=None)).get(name)
            assert adapter.actions == frozenset(actions)
            close = getattr(adapter, "close", None)
            if close is not None:
                close()
        for action, category in unit.actions.items():
            # The categories the name-based rules gave before the catalogue existed.
            assert domain_action_category(name, action, {}) is category
    assert UNITS["shopify"].actions["metafields.set"] is ActionCategory.OTHER
    assert UNITS["alpaca"].actions["orders.cancel_all"] is ActionCategory.TRADE
    assert UNITS["alpaca"].actions["account.suspend_trading"] is ActionCategory.OTHER


def test_everything_provider_specific_is_derived_from_the_one_list() -> None:
    assert registry.CREDENTIAL_PROVIDERS == ("alpaca", "etsy", "shopify", "youtube")
    assert set(registry.OAUTH_PROFILES) == {"etsy", "shopify", "youtube"}
    assert set(registry.API_KEY_PROFILES) == {"alpaca"}
    assert {
        (u.name, a): c for u in registry.PROVIDERS for a, c in u.actions.items()
    } == registry.ACTION_CATALOGUE
    provider_rules = [r for u in registry.PROVIDERS for r in u.redaction_rules]
    assert {r.id for r in provider_rules} == {
        "google-api-key",
        "google-oauth-access",
        "google-oauth-refresh",
        "google-client-secret",
        "etsy-oauth-token",
        "shopify-token",
        "alpaca-key-id",
        "alpaca-secret-key",
    }
    assert set(registry.REDACTION_RULES) == set(GENERIC_RULES) | set(provider_rules)
    assert not set(GENERIC_RULES) & set(provider_rules)
    assert registry.DEFAULT_REDACTOR.rules == registry.REDACTION_RULES


def test_provider_token_formats_are_masked_only_with_the_registry_rules() -> None:
    from autopack.domain.redaction import Redactor

    token = "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"
    assert Redactor(GENERIC_RULES).redact_text(f"t {token}") == f"t {token}"
    assert registry.DEFAULT_REDACTOR.redact_text(f"t {token}") == "t [REDACTED:shopify-token]"


def test_secret_settings_of_providers_are_collected(tmp_path: Path) -> None:
    settings = Settings(
        _env_file=None,
        workspace=tmp_path,
        youtube_client_id="client-id-not-secret",
        youtube_client_secret="GOCSPX-client-secret-value-1",
        shopify_client_secret="shopify-client-secret-value-2",
    )
    assert sorted(registry.secret_settings(settings)) == [
        "GOCSPX-client-secret-value-1",
        "shopify-client-secret-value-2",
    ]


def test_a_provider_without_an_adapter_is_refused_by_name(tmp_path: Path) -> None:
    """A unit may be declared before its adapter exists (credentials, categories and
    redaction work); proposing for it is refused by name, never a crash."""
    dispatchable = sorted(u.name for u in registry.PROVIDERS if u.adapter_factory is not None)
    assert dispatchable == ["alpaca", "etsy", "sandbox", "shopify", "youtube"]
    planned = dataclasses.replace(
        registry.UNITS["sandbox"], name="planned", adapter_factory=None, wire={}
    )
    providers = ProviderRegistry(_settings(tmp_path), providers=[*registry.PROVIDERS, planned])
    try:
        assert providers.dispatchable == dispatchable
        assert providers.names == sorted([*dispatchable, "planned"])
        with pytest.raises(UnknownProviderError) as unknown:
            providers.get("nope")
        assert unknown.value.code == "unknown_provider"
        with pytest.raises(ProviderNotAvailableError) as info:
            providers.get("planned")
        assert info.value.code == "provider_not_available"
        assert http_status(info.value.code) == 400
        assert exit_code(info.value.code) == EXIT_BAD_INPUT
        assert "no adapter yet" in info.value.message
        assert info.value.details == {"provider": "planned", "dispatchable": dispatchable}
    finally:
        providers.close()


def test_a_new_unit_is_built_with_its_context(tmp_path: Path) -> None:
    """One package plus one registry entry: the factory gets settings, credentials,
    the transport seam and the clock, and its adapter uses the transport."""
    from autopack.providers.sandbox.adapter import SandboxAdapter

    seen: list[ProviderContext] = []
    requests: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(201, json={"id": "obj-1"})

    def factory(context: ProviderContext) -> ProviderAdapter:
        seen.append(context)
        return SandboxAdapter("http://sandbox.invalid", transport=context.transport)

    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    unit = dataclasses.replace(registry.UNITS["sandbox"], adapter_factory=factory)
    settings = _settings(tmp_path)
    providers = ProviderRegistry(
        settings, providers=[unit], transport=httpx.MockTransport(answer), clock=lambda: moment
    )
    try:
        adapter = providers.get("sandbox")
        assert providers.get("sandbox") is adapter  # built once
        (context,) = seen
        assert context.provider == "sandbox"
        assert context.settings is settings
        assert context.clock() == moment
        assert isinstance(context.credentials, NoCredentialStore)
        intent = Intent("sandbox", "video.upload", "acct", "k1", {"title": "t"})
        result = adapter.dispatch(intent, adapter.render(intent), InMemoryProgress())
        assert (result.outcome, result.provider_object_id) == (Outcome.SUCCEEDED, "obj-1")
        assert [r.url.host for r in requests] == ["sandbox.invalid"]
    finally:
        providers.close()


def test_a_unit_that_contradicts_itself_is_refused_at_declaration() -> None:
    sandbox = registry.UNITS["sandbox"]
    with pytest.raises(ValueError, match="catalogue is empty"):
        dataclasses.replace(sandbox, actions={})
    with pytest.raises(ValueError, match="unknown settings"):
        dataclasses.replace(sandbox, settings=("no_such_setting",))
    with pytest.raises(ValueError, match="profile names"):
        dataclasses.replace(sandbox, credential_profile=registry.UNITS["etsy"].credential_profile)
    with pytest.raises(ValueError, match="no valid category"):
        dataclasses.replace(sandbox, actions={"x.y": "publish"})  # type: ignore[dict-item]  # a str, not the enum
