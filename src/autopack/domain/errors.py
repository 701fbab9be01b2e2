"""The one exception tree. Every error carries a stable code from the catalogue.

Each class has a category (``autopack.domain.error_codes``); an error accepts
only a catalogued code of its own category, so the interfaces map the code's
category to an HTTP status (``autopack.api.errors``) and a CLI exit code
(``autopack.cli._common``) in one place each.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

from autopack.domain.error_codes import ErrorCategory, ErrorCode


class AutopackError(Exception):
    """Base of every error Autopack raises on purpose."""

    category: ClassVar[ErrorCategory] = ErrorCategory.INTERNAL
    default_code: ClassVar[ErrorCode] = ErrorCode.AUTOPACK_ERROR

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Checked when the class is defined: a mismatch fails at import.
        _check_code(cls, cls.default_code)

    def __init__(
        self,
        message: str,
        *,
        code: ErrorCode | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code: ErrorCode = self.default_code if code is None else _check_code(type(self), code)
        self.details: dict[str, Any] = dict(details or {})

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code.value, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body


def _check_code(cls: type[AutopackError], code: str) -> ErrorCode:
    """``code`` as a catalogued code of ``cls``'s category; a programming error otherwise."""
    try:
        member = ErrorCode(code)
    except ValueError:
        raise TypeError(f"{cls.__name__}: {code!r} is not in the error-code catalogue") from None
    if member.category is not cls.category:
        raise TypeError(
            f"{cls.__name__}: code {member.value!r} is {member.category.value}, "
            f"the class is {cls.category.value}"
        )
    return member


class InvalidInputError(AutopackError):
    """The caller gave something Autopack refuses; nothing was changed."""

    category = ErrorCategory.INVALID_INPUT
    default_code = ErrorCode.INVALID_INPUT


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
            code=ErrorCode.INVALID_STATUS,
        ) from exc


class NotFoundError(AutopackError):
    category = ErrorCategory.NOT_FOUND
    default_code = ErrorCode.NOT_FOUND


class ConflictError(AutopackError):
    """The request contradicts what is already recorded."""

    category = ErrorCategory.CONFLICT
    default_code = ErrorCode.CONFLICT


class AuthenticationError(AutopackError):
    category = ErrorCategory.UNAUTHENTICATED
    default_code = ErrorCode.UNAUTHENTICATED


class ForbiddenError(AutopackError):
    """The caller is known, but its role does not allow this."""

    category = ErrorCategory.FORBIDDEN
    default_code = ErrorCode.FORBIDDEN


class ConfigurationError(AutopackError):
    """A setting is missing or unsafe; raised before anything starts."""

    category = ErrorCategory.CONFIGURATION
    default_code = ErrorCode.INVALID_CONFIGURATION


class UnavailableError(AutopackError):
    """A dependency (database, provider, schema version) is not usable now."""

    category = ErrorCategory.UNAVAILABLE
    default_code = ErrorCode.UNAVAILABLE


class CheckFailedError(AutopackError):
    """A check ran and found a problem (drift, mismatch)."""

    category = ErrorCategory.CHECK_FAILED
    default_code = ErrorCode.CHECK_FAILED
