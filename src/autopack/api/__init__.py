"""HTTP API: thin FastAPI layer over the services."""

from autopack.api.app import create_app

__all__ = ["create_app"]
