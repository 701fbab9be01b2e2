"""Payload validation shared by the real adapters: one error type, one code.

An adapter's ``render`` refuses a payload it cannot turn into the exact request
with :class:`ProviderPayloadError` (``invalid_provider_payload``, a 400 / exit 2)
naming the field, so an agent learns what to fix before anything is recorded.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import InvalidInputError


class ProviderPayloadError(InvalidInputError):
    default_code = ErrorCode.INVALID_PROVIDER_PAYLOAD


def refuse(provider: str, action: str, field: str, problem: str) -> ProviderPayloadError:
    return ProviderPayloadError(
        f"{provider} {action}: {field} {problem}",
        details={"provider": provider, "action": action, "field": field},
    )


class PayloadReader:
    """Typed reads of one payload; every failure names provider, action and field."""

    def __init__(self, provider: str, action: str, payload: Mapping[str, Any]) -> None:
        if not isinstance(payload, Mapping):
            raise refuse(provider, action, "payload", "must be a JSON object")
        self.provider = provider
        self.action = action
        self.payload = payload

    def error(self, field: str, problem: str) -> ProviderPayloadError:
        return refuse(self.provider, self.action, field, problem)

    def only(self, allowed: Collection[str]) -> None:
        """Refuse fields the adapter does not know (a typo would be silently dropped)."""
        unknown = sorted(set(self.payload) - set(allowed))
        if unknown:
            raise self.error(
                ", ".join(unknown[:5]), f"unknown; allowed: {', '.join(sorted(allowed))}"
            )

    def has(self, field: str) -> bool:
        return field in self.payload and self.payload[field] is not None

    def text(self, field: str, *, max_chars: int | None = None, required: bool = True) -> str:
        value = self.payload.get(field)
        if value is None and not required:
            return ""
        if not isinstance(value, str) or (required and not value.strip()):
            raise self.error(field, "is required and must be a non-empty string")
        if max_chars is not None and len(value) > max_chars:
            raise self.error(field, f"has {len(value)} characters; the limit is {max_chars}")
        return value

    def boolean(self, field: str) -> bool:
        """A required boolean: no silent default (disclosures must be stated)."""
        value = self.payload.get(field)
        if not isinstance(value, bool):
            raise self.error(field, "is required and must be true or false")
        return value

    def choice(self, field: str, allowed: Collection[str], *, required: bool = True) -> str:
        value = self.payload.get(field)
        if value is None and not required:
            return ""
        # A list or an object is unhashable: test the type before membership.
        if not isinstance(value, str) or value not in allowed:
            raise self.error(field, f"must be one of {', '.join(sorted(allowed))}")
        return str(value)

    def integer(self, field: str, *, minimum: int = 0, maximum: int = 2**31 - 1) -> int:
        value = self.payload.get(field)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(field, "is required and must be an integer")
        if not minimum <= value <= maximum:
            raise self.error(field, f"must be within {minimum}..{maximum}")
        return value

    def text_list(
        self, field: str, *, max_items: int, max_chars: int, required: bool = False
    ) -> list[str]:
        value = self.payload.get(field)
        if value is None and not required:
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.error(field, "must be a list of non-empty strings")
        if len(value) > max_items:
            raise self.error(field, f"has {len(value)} items; the limit is {max_items}")
        for item in value:
            if len(item) > max_chars:
                raise self.error(field, f"has an item over {max_chars} characters")
        return list(value)
