"""The FastAPI app factory."""

from __future__ import annotations

import secrets
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from autopack import __version__
from autopack.api import (
    routes_actions,
    routes_auth,
    routes_halts,
    routes_handoff,
    routes_health,
    routes_notifications,
    routes_packets,
    routes_policy,
    routes_principals,
    routes_runs,
    routes_session,
    routes_trading,
)
from autopack.api.body_limit import BodyLimitMiddleware
from autopack.api.console import ConsoleMiddleware
from autopack.api.deps import ApiServices
from autopack.api.errors import install_error_handlers
from autopack.api.etag import ETagMiddleware
from autopack.api.schemas import contract_openapi
from autopack.api.security import ApiKeyMiddleware
from autopack.db.schema import ensure_at_head
from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import ConfigurationError
from autopack.services.context import Runtime
from autopack.services.principals import PrincipalService
from autopack.services.redaction_logging import LiveRedactorSource, install_log_redaction
from autopack.services.runtime import build_runtime
from autopack.services.sessions import SessionService
from autopack.settings import Settings, load_settings


def resolve_api_key(settings: Settings) -> tuple[str | None, bool]:
    """The bootstrap admin key: the configured one, or (development only) a fresh one;
    production may have none (principals' keys then). Returns (key, generated)."""
    settings.check_production_secrets()
    if settings.api_key is not None:
        return settings.api_key.get_secret_value(), False
    if settings.is_production:
        return None, False
    return secrets.token_urlsafe(32), True


def require_someone_in_charge(runtime: Runtime, bootstrap_key: str | None) -> None:
    """Refuse to serve an API nobody can administer: no bootstrap key and no admin."""
    if bootstrap_key is None and not PrincipalService(runtime).has_admin():
        raise ConfigurationError(
            "no admin can call this API: set AUTOPACK_API_KEY (the bootstrap admin key) "
            "or create an admin with `autopack principals add NAME --role admin`",
            code=ErrorCode.MISSING_SECRET,
        )


HTTP_METHODS = frozenset({"get", "post", "put", "patch", "delete", "head", "options"})


def route_table(app: FastAPI) -> set[tuple[str, str]]:
    """Every (METHOD, path) the app serves, from its OpenAPI schema plus the schema route.

    FastAPI keeps included routers in private wrappers, so the schema is the
    stable public view; every route is in it (none opts out).
    """
    routes = {
        (method.upper(), path)
        for path, operations in app.openapi().get("paths", {}).items()
        for method in operations
        if method in HTTP_METHODS
    }
    if app.openapi_url:
        routes.add(("GET", app.openapi_url))
    return routes


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    """Build the app. Refuses to start (at lifespan) on a schema behind head."""
    if runtime is None:
        runtime = build_runtime(settings if settings is not None else load_settings())
    api_key, generated = resolve_api_key(runtime.settings)
    principals = PrincipalService(runtime)

    @asynccontextmanager
    async def lifespan(served: FastAPI) -> AsyncIterator[None]:
        ensure_at_head(runtime.engine)
        require_someone_in_charge(runtime, api_key)
        # One set of services per app, closed on shutdown (see api.deps).
        services = ApiServices.build(runtime)
        served.state.services = services
        # Every log line of the server passes the runtime's redactor (stored secrets too).
        log_redaction = install_log_redaction(LiveRedactorSource(runtime.log_redactor))
        if generated:
            # Printed once, to the operator's terminal, never logged elsewhere.
            print(  # noqa: T201 - the one place the generated key is shown
                f"autopack: generated development API key (this run only): {api_key}",
                file=sys.stderr,
                flush=True,
            )
        try:
            yield
        finally:
            log_redaction.uninstall()
            served.state.services = None
            services.close()

    app = FastAPI(
        title="Autopack",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.runtime = runtime
    app.state.api_key = api_key
    install_error_handlers(app)
    app.include_router(routes_health.router)
    app.include_router(routes_runs.router)
    app.include_router(routes_actions.router)
    app.include_router(routes_halts.router)
    app.include_router(routes_auth.router)
    app.include_router(routes_principals.router)
    app.include_router(routes_packets.router)
    app.include_router(routes_policy.router)
    app.include_router(routes_session.router)
    app.add_middleware(ETagMiddleware)
    app.include_router(routes_handoff.router)
    app.include_router(routes_notifications.router)
    app.include_router(routes_trading.router)
    app.add_middleware(
        ApiKeyMiddleware,
        bootstrap_key=api_key,
        authenticate=principals.authenticate,
        identify_session=SessionService(runtime).identify,
    )
    # Outside authentication: the console's own files are public (its data is not).
    app.add_middleware(ConsoleMiddleware, root=runtime.settings.console_dir)
    # Added last, so outermost: an oversized body is refused before anything reads it.
    app.add_middleware(BodyLimitMiddleware, max_bytes=runtime.settings.max_request_bytes)
    app.openapi = contract_openapi(app)  # type: ignore[method-assign]  # FastAPI's documented hook
    return app
