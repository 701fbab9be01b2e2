"""Autopack: a safety kernel for autonomous software that acts in the real world.

The public API is what ``__all__`` lists; everything else is private and may
change without notice.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("autopack")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+unknown"

from autopack.domain.canonical import canonical_hash, canonical_json, parse_json_strict
from autopack.domain.errors import (
    AuthenticationError,
    AutopackError,
    CheckFailedError,
    ConfigurationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    UnavailableError,
)
from autopack.domain.layout import RunRef, validate_identifier
from autopack.settings import Settings, load_settings

__all__ = [
    "AuthenticationError",
    "AutopackError",
    "CheckFailedError",
    "ConfigurationError",
    "ConflictError",
    "InvalidInputError",
    "NotFoundError",
    "RunRef",
    "Settings",
    "UnavailableError",
    "__version__",
    "canonical_hash",
    "canonical_json",
    "load_settings",
    "parse_json_strict",
    "validate_identifier",
]
