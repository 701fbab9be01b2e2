"""The one settings object. Built by the app factory and the CLI entry, never at import."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
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
DEFAULT_SHOPIFY_API_URL = "https://{shop}.myshopify.com/admin/api/{version}/graphql.json"
DEFAULT_SHOPIFY_API_VERSION = "2026-01"
MIN_SECRET_LENGTH = 32
MIN_NOTIFY_SECRET_LENGTH = 16
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


def check_webhook_url(url: str) -> str:
    """An absolute http(s) URL with a host, no credentials in it; ValueError otherwise."""
    parsed = urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ValueError("the webhook URL must be http://host/... or https://host/...")
    if parsed.username or parsed.password:
        raise ValueError("the webhook URL must not carry a user or password")
    try:
        parsed.port  # noqa: B018 - raises ValueError on a port out of range
    except ValueError as exc:
        raise ValueError("the webhook URL has an invalid port") from exc
    if any(ch.isspace() for ch in url):
        raise ValueError("the webhook URL must not contain whitespace")
    return url


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
    console_dir: Path = Field(
        default=Path("dist/console"),
        description="Where `npm run build` writes the operator console; the API serves "
        "it at / when its index.html exists. Relative paths are resolved from the "
        "current directory.",
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
    etsy_shared_secret: SecretStr | None = Field(
        default=None,
        description="Etsy app shared secret: every Open API v3 request sends "
        "x-api-key: <keystring>:<shared secret> (required since Feb 9, 2026).",
    )
    etsy_api_url: str = Field(
        default="https://api.etsy.com/v3/application",
        description="Base URL of the Etsy Open API v3 (the Etsy fake's in tests and demos).",
    )
    shopify_client_id: str | None = Field(
        default=None, description="Shopify app API key (OAuth client id)."
    )
    shopify_client_secret: SecretStr | None = Field(
        default=None, description="Shopify app API secret key."
    )
    shopify_api_url: str = Field(
        default=DEFAULT_SHOPIFY_API_URL,
        description="Admin GraphQL endpoint template: {shop} is the account (the shop's "
        "myshopify.com subdomain), {version} is AUTOPACK_SHOPIFY_API_VERSION. Point it at "
        "the fake (`autopack fakes serve`) in tests and demos.",
    )
    shopify_api_version: str = Field(
        default=DEFAULT_SHOPIFY_API_VERSION,
        pattern=r"^20\d\d-(01|04|07|10)$",
        description="Shopify Admin API version (YYYY-01|04|07|10), 2026-01 or later: the "
        "first with the @idempotent directive that inventory.adjust sends.",
    )

    policy_freshness_days: float = Field(
        default=7,
        gt=0,
        le=365,
        description="Policy monitor: how old a provider's last successful policy check may "
        "be before its publish and list actions are held (`autopack policy fetch` renews it).",
    )
    policy_fetch_timeout_seconds: float = Field(
        default=20,
        gt=0,
        le=300,
        description="Policy monitor: connect and read timeout of one policy page request.",
    )
    policy_max_page_bytes: int = Field(
        default=5 * 1024 * 1024,
        ge=1024,
        le=100 * 1024 * 1024,
        description="Policy monitor: largest policy page body read; a larger page is a "
        "failed fetch (the snapshot does not become fresh).",
    )
    alpaca_paper_url: str = Field(
        default="https://paper-api.alpaca.markets",
        description="Base URL the Alpaca adapter sends paper-environment requests to "
        "(the fake in tests and demos: <fakes url>/alpaca/paper).",
    )
    alpaca_live_url: str = Field(
        default="https://api.alpaca.markets",
        description="Base URL the Alpaca adapter sends live-environment requests to "
        "(the fake in tests and demos: <fakes url>/alpaca/live).",
    )

    notify_webhook_url: str | None = Field(
        default=None,
        description="Webhook that is told about new pending approvals, held actions, "
        "engaged halts and actions needing attention (http:// or https://). Empty means "
        "no notifications are written or sent.",
    )
    notify_format: Literal["json", "slack"] = Field(
        default="json",
        description="Webhook body: json (the notification as canonical JSON) or slack "
        '(a Slack-compatible {"text": ...}).',
    )
    notify_secret: SecretStr | None = Field(
        default=None,
        description="HMAC-SHA256 key that signs every webhook delivery "
        f"({MIN_NOTIFY_SECRET_LENGTH}+ characters); required when "
        "AUTOPACK_NOTIFY_WEBHOOK_URL is set.",
    )
    notify_max_attempts: int = Field(
        default=8,
        ge=1,
        le=100,
        description="Delivery attempts per notification before it is marked dead.",
    )
    notify_backoff_seconds: float = Field(
        default=5.0,
        ge=0,
        le=3600,
        description="Delay after the first failed delivery; it doubles after each "
        "further failure (at most one hour).",
    )
    notify_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="How long one webhook delivery waits for the receiver's answer.",
    )
    youtube_api_url: str = Field(
        default="https://www.googleapis.com",
        description="Base URL of the YouTube Data API (uploads go to "
        "<url>/upload/youtube/v3/videos); the YouTube fake's URL in tests and demos.",
    )
    youtube_chunk_bytes: int = Field(
        default=64 * 1024 * 1024,
        ge=256 * 1024,
        le=1024**3,
        description="Bytes per media PUT of a YouTube resumable upload: a multiple of "
        "262144 (256 KiB), as the upload protocol requires of every chunk but the last.",
    )
    youtube_quota_cost_insert: int = Field(
        default=100,
        ge=0,
        le=100000,
        description="Quota units one YouTube videos.insert costs (recorded per dispatch).",
    )
    youtube_quota_cost_list: int = Field(
        default=1,
        ge=0,
        le=100000,
        description="Quota units one YouTube list call (channels, playlistItems, videos) "
        "costs during a lookup.",
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
    live_trading: bool = Field(
        default=False,
        description="Trading: allow live orders at all. A live order also needs a live "
        "Alpaca credential and an approved, unexpired promotion of its strategy and limits; "
        "false (the default) refuses every live order.",
    )
    trading_account_max_age_seconds: float = Field(
        default=60,
        gt=0,
        le=3600,
        description="Trading: how old the last read of a broker account may be before "
        "orders checked against its daily loss or drawdown are held (fail closed).",
    )
    trading_sync_seconds: float = Field(
        default=15,
        gt=0,
        le=3600,
        description="Trading: how often the worker reads each trading account from the "
        "broker (account, open orders, positions) and settles reservations.",
    )
    trading_promotion_approvals: int = Field(
        default=2,
        ge=1,
        le=5,
        description="Trading: how many distinct operators approve a promotion to live "
        "(none of them the requester).",
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
        "etsy_shared_secret",
        "shopify_client_id",
        "shopify_client_secret",
        "notify_webhook_url",
        "notify_secret",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("shopify_api_version")
    @classmethod
    def _shopify_version_has_idempotent(cls, value: str) -> str:
        # Versions are YYYY-MM, so text order is time order.
        if value < DEFAULT_SHOPIFY_API_VERSION:
            raise ValueError(
                f"must be {DEFAULT_SHOPIFY_API_VERSION} or later (the @idempotent directive)"
            )
        return value

    @field_validator("notify_webhook_url")
    @classmethod
    def _webhook_url(cls, value: str | None) -> str | None:
        if value is not None:
            check_webhook_url(value)
        return value

    @model_validator(mode="after")
    def _webhook_needs_secret(self) -> Settings:
        if self.notify_webhook_url is None:
            return self
        if self.notify_secret is None:
            raise ValueError(
                "AUTOPACK_NOTIFY_SECRET is required when AUTOPACK_NOTIFY_WEBHOOK_URL is set "
                "(every delivery is signed)"
            )
        if len(self.notify_secret.get_secret_value()) < MIN_NOTIFY_SECRET_LENGTH:
            raise ValueError(
                f"AUTOPACK_NOTIFY_SECRET must be {MIN_NOTIFY_SECRET_LENGTH}+ characters"
            )
        return self

    @property
    def notifications_enabled(self) -> bool:
        return self.notify_webhook_url is not None

    @field_validator("youtube_api_url")
    @classmethod
    def _api_base_url(cls, value: str) -> str:
        parsed = urlsplit(value)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError("must be an http(s)://host[:port] URL")
        if parsed.query or parsed.fragment:
            raise ValueError("must not carry a query or a fragment")
        return value.rstrip("/")

    @field_validator("youtube_chunk_bytes")
    @classmethod
    def _whole_upload_quanta(cls, value: int) -> int:
        if value % (256 * 1024):
            raise ValueError("must be a multiple of 262144 bytes (256 KiB)")
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
