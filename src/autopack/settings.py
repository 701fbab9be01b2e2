"""The one settings object. Built by the app factory and the CLI entry, never at import."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import ConfigurationError
from autopack.domain.layout import embedded_database_path

ENV_PREFIX = "AUTOPACK_"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_SANDBOX_PORT = 8765
# Four times the canonical payload limit: a JSON body carries the payload as an
# escaped string, plus whitespace and the other fields.
DEFAULT_MAX_REQUEST_BYTES = 1024 * 1024
MIN_SECRET_LENGTH = 32
# Values that mean "nobody set this": refused outside development.
_PLACEHOLDER_MARKERS = (
    "change",
    "placeholder",
    "example",
    "secret",
    "replace",
    "your",
    "todo",
    "xxx",
    "dummy",
    "default",
)


def is_placeholder_secret(value: str) -> bool:
    lowered = value.strip().lower()
    if len(lowered) < MIN_SECRET_LENGTH:
        return True
    if len(set(lowered)) < 8:
        return True
    return any(marker in lowered for marker in _PLACEHOLDER_MARKERS)


class Settings(BaseSettings):
    """Every Autopack setting. Each field is one `AUTOPACK_<NAME>` variable."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    env: Literal["development", "production"] = Field(
        default="development",
        description="development allows generated keys; production refuses missing "
        "or placeholder secrets at startup.",
    )
    workspace: Path = Field(
        default=Path(),
        description="Root under which .autonomous_runs/ and the embedded database live.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL. Empty means the embedded SQLite file "
        "<workspace>/.autonomous_runs/_autopack/autopack.db. PostgreSQL: "
        "postgresql+psycopg://user:pass@host:5432/db.",
    )
    api_key: SecretStr | None = Field(
        default=None,
        description="Bootstrap admin key for the API (X-API-Key): for development and "
        "for creating the first principals (`autopack principals add`). In development "
        "an unset key is generated at server start and printed once; in production the "
        "server refuses to start with neither this key nor an admin principal.",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Key material for encrypting stored credentials (32+ characters).",
    )
    host: str = Field(default=DEFAULT_HOST, description="Address `autopack serve` binds.")
    port: int = Field(
        default=DEFAULT_PORT, ge=1, le=65535, description="Port `autopack serve` binds."
    )
    max_request_bytes: int = Field(
        default=DEFAULT_MAX_REQUEST_BYTES,
        ge=1024,
        le=1024**3,
        description="Largest request body the API reads; a larger one is refused with "
        "413 before it is read.",
    )

    sandbox_url: str = Field(
        default=f"http://{DEFAULT_HOST}:{DEFAULT_SANDBOX_PORT}",
        description="Base URL of the sandbox provider (`autopack sandbox serve`).",
    )

    oauth_server_url: str | None = Field(
        default=None,
        description="Send every OAuth provider's authorize and token requests to "
        "<url>/<provider>/authorize and <url>/<provider>/token instead of the real "
        "endpoints: for the fake OAuth server (`autopack fake-oauth serve`) in tests "
        "and demos. Empty means the real provider endpoints.",
    )
    youtube_client_id: str | None = Field(
        default=None, description="Google OAuth client id used to connect YouTube accounts."
    )
    youtube_client_secret: SecretStr | None = Field(
        default=None, description="Google OAuth client secret for youtube_client_id."
    )
    etsy_client_id: str | None = Field(
        default=None, description="Etsy app keystring (OAuth client id; PKCE, no secret)."
    )
    shopify_client_id: str | None = Field(
        default=None, description="Shopify app API key (OAuth client id)."
    )
    shopify_client_secret: SecretStr | None = Field(
        default=None, description="Shopify app API secret key."
    )

    qdrant_url: str | None = Field(
        default=None,
        description="Run memory on a Qdrant server at this URL (for example "
        "http://qdrant:6333). Empty means the embedded Qdrant Edge index in "
        "<workspace>/.autonomous_runs/_autopack/memory/.",
    )
    handoff_url_allowlist: str | None = Field(
        default=None,
        description="Comma-separated hosts a sub-agent's handoff output may link to "
        "(subdomains included). Empty means no URL is accepted.",
    )

    @field_validator(
        "qdrant_url",
        "handoff_url_allowlist",
        "database_url",
        "api_key",
        "secret_key",
        "oauth_server_url",
        "youtube_client_id",
        "youtube_client_secret",
        "etsy_client_id",
        "shopify_client_id",
        "shopify_client_secret",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @property
    def workspace_path(self) -> Path:
        return self.workspace.expanduser().resolve()

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return "sqlite:///" + embedded_database_path(self.workspace_path).as_posix()

    @property
    def handoff_url_list(self) -> list[str]:
        given = self.handoff_url_allowlist or ""
        return sorted({h.strip().lower() for h in given.split(",") if h.strip()})

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    def check_production_secrets(self) -> None:
        """Refuse to run in production with a missing or placeholder secret.

        ``api_key`` (the bootstrap admin key) may be unset once an admin principal
        exists; the server checks that at start, since it needs the database."""
        if not self.is_production:
            return
        for name in ("api_key", "secret_key"):
            secret: SecretStr | None = getattr(self, name)
            var = ENV_PREFIX + name.upper()
            if secret is None and name == "api_key":
                continue
            if secret is None:
                raise ConfigurationError(
                    f"{var} is required when AUTOPACK_ENV=production",
                    code=ErrorCode.MISSING_SECRET,
                )
            if is_placeholder_secret(secret.get_secret_value()):
                raise ConfigurationError(
                    f"{var} looks like a placeholder: use {MIN_SECRET_LENGTH}+ random "
                    'characters, e.g. python -c "import secrets; print(secrets.token_urlsafe(32))"',
                    code=ErrorCode.PLACEHOLDER_SECRET,
                )


def load_settings(**overrides: object) -> Settings:
    """Build and check settings; errors become one-line ConfigurationErrors."""
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(part) for part in first["loc"])
        var = ENV_PREFIX + loc.upper() if loc else "settings"
        raise ConfigurationError(f"{var}: {first['msg']}", code=ErrorCode.INVALID_SETTING) from exc
    settings.check_production_secrets()
    return settings
