"""Settings: one object, env prefix AUTOPACK_, production refuses unsafe secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from autopack.domain.errors import ConfigurationError
from autopack.settings import Settings, is_placeholder_secret, load_settings

STRONG = "Zq3v8LmN2pXw7RtY5uB1cD4eF6gH9jK0"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("AUTOPACK_") and key != "AUTOPACK_TEST_PG_URL":
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


def test_defaults_use_the_embedded_sqlite_in_the_workspace(tmp_path: Path) -> None:
    settings = load_settings()
    assert settings.env == "development"
    assert settings.workspace_path == tmp_path.resolve()
    assert settings.effective_database_url == (
        "sqlite:///" + (tmp_path.resolve() / ".autonomous_runs/_autopack/autopack.db").as_posix()
    )
    assert settings.port == 8000
    assert settings.host == "127.0.0.1"


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AUTOPACK_WORKSPACE", str(tmp_path / "w"))
    monkeypatch.setenv("AUTOPACK_DATABASE_URL", "postgresql://u@127.0.0.1/db")
    monkeypatch.setenv("AUTOPACK_PORT", "9001")
    settings = load_settings()
    assert settings.workspace_path == (tmp_path / "w").resolve()
    assert settings.effective_database_url == "postgresql://u@127.0.0.1/db"
    assert settings.port == 9001


def test_dotenv_in_current_directory_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("AUTOPACK_PORT=9100\n", encoding="utf-8")
    assert load_settings().port == 9100


def test_bad_value_is_a_one_line_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOPACK_ENV", "staging")
    with pytest.raises(ConfigurationError) as info:
        load_settings()
    assert info.value.message.startswith("AUTOPACK_ENV:")
    assert "\n" not in info.value.message


def test_empty_values_mean_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOPACK_DATABASE_URL", "")
    monkeypatch.setenv("AUTOPACK_API_KEY", " ")
    settings = load_settings()
    assert settings.database_url is None
    assert settings.api_key is None


@pytest.mark.parametrize(
    ("api_key", "secret_key", "code"),
    [
        (STRONG, None, "missing_secret"),
        ("change-me", STRONG, "placeholder_secret"),
        (STRONG, "your-secret-key-goes-here-please-change-it", "placeholder_secret"),
        (STRONG, "a" * 40, "placeholder_secret"),
    ],
)
def test_production_refuses_missing_or_placeholder_secrets(
    monkeypatch: pytest.MonkeyPatch, api_key: str | None, secret_key: str | None, code: str
) -> None:
    monkeypatch.setenv("AUTOPACK_ENV", "production")
    if api_key is not None:
        monkeypatch.setenv("AUTOPACK_API_KEY", api_key)
    if secret_key is not None:
        monkeypatch.setenv("AUTOPACK_SECRET_KEY", secret_key)
    with pytest.raises(ConfigurationError) as info:
        load_settings()
    assert info.value.code == code
    assert "AUTOPACK_" in info.value.message


def test_production_accepts_strong_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOPACK_ENV", "production")
    monkeypatch.setenv("AUTOPACK_API_KEY", STRONG)
    monkeypatch.setenv("AUTOPACK_SECRET_KEY", STRONG[::-1])
    assert load_settings().is_production


def test_production_may_run_without_a_bootstrap_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """Principals' keys replace it; the server refuses only when no admin exists."""
    monkeypatch.setenv("AUTOPACK_ENV", "production")
    monkeypatch.setenv("AUTOPACK_SECRET_KEY", STRONG)
    assert load_settings().api_key is None


def test_development_allows_missing_secrets() -> None:
    settings = load_settings()
    assert settings.api_key is None
    settings.check_production_secrets()


def test_secrets_never_show_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOPACK_API_KEY", STRONG)
    assert STRONG not in repr(load_settings())


def test_placeholder_detection() -> None:
    assert is_placeholder_secret("short")
    assert is_placeholder_secret("CHANGE_ME_" + "x1y2z3w4" * 4)
    assert not is_placeholder_secret(STRONG)


def test_settings_are_not_built_at_import() -> None:
    import autopack.api.app
    import autopack.cli.app

    # Building happens in create_app()/commands; importing must not need a valid env.
    assert not any(isinstance(v, Settings) for v in vars(autopack.cli.app).values())
    assert not any(isinstance(v, Settings) for v in vars(autopack.api.app).values())
