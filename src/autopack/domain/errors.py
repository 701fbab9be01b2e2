"""The one exception tree. Every error carries a stable machine code.

Interfaces map the class to an HTTP status and a CLI exit code; the code string
is the contract clients and scripts rely on, so never rename one.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

# CLI exit codes, documented in the README and `autopack --help`.
EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_UNAVAILABLE = 3
# An unexpected crash (a bug): never 1, which scripts read as "the check failed".
EXIT_INTERNAL_ERROR = 4


class AutopackError(Exception):
    """Base of every error Autopack raises on purpose."""

    default_code: ClassVar[str] = "autopack_error"
    exit_code: ClassVar[int] = EXIT_CHECK_FAILED
    http_status: ClassVar[int] = 500

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.details: dict[str, Any] = dict(details or {})

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body


class InvalidInputError(AutopackError):
    """The caller gave something Autopack refuses; nothing was changed."""

    default_code = "invalid_input"
    exit_code = EXIT_BAD_INPUT
    http_status = 400


_Choice = TypeVar("_Choice", bound=enum.Enum)


def parse_choice(choices: type[_Choice], value: str, what: str) -> _Choice:
    """``value`` as a member of the enum ``choices``; ``InvalidInputError`` naming
    every allowed value otherwise (filters such as ``--status``)."""
    try:
        return choices(value)
    except ValueError as exc:
        raise InvalidInputError(
            f"unknown {what} {value[:40]!r}: use one of "
            + ", ".join(str(member.value) for member in choices),
            code="invalid_status",
        ) from exc


class NotFoundError(AutopackError):
    default_code = "not_found"
    exit_code = EXIT_BAD_INPUT
    http_status = 404


class ConflictError(AutopackError):
    """The request contradicts what is already recorded."""

    default_code = "conflict"
    exit_code = EXIT_BAD_INPUT
    http_status = 409


class AuthenticationError(AutopackError):
    default_code = "unauthenticated"
    exit_code = EXIT_BAD_INPUT
    http_status = 401


class ConfigurationError(AutopackError):
    """A setting is missing or unsafe; raised before anything starts."""

    default_code = "invalid_configuration"
    exit_code = EXIT_BAD_INPUT
    http_status = 500


class UnavailableError(AutopackError):
    """A dependency (database, provider, schema version) is not usable now."""

    default_code = "unavailable"
    exit_code = EXIT_UNAVAILABLE
    http_status = 503


class CheckFailedError(AutopackError):
    """A check ran and found a problem (drift, mismatch)."""

    default_code = "check_failed"
    exit_code = EXIT_CHECK_FAILED
    http_status = 500
