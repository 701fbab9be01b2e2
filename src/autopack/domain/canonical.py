"""Canonical JSON and hashing: the single implementation in the code base.

Rules: object keys sorted by code point, UTF-8, no insignificant whitespace,
every string (keys too) NFC-normalised, no floats or NaN (encode decimals as
strings or pass ``decimal.Decimal``), datetimes must be timezone-aware and are
written in UTC with a ``Z`` suffix. The hash is SHA-256 of those bytes.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import InvalidInputError

JsonValue = None | bool | int | str | list["JsonValue"] | dict[str, "JsonValue"]


class CanonicalizationError(InvalidInputError):
    default_code = ErrorCode.NOT_CANONICALIZABLE


def format_utc(moment: datetime) -> str:
    """Render an aware datetime as UTC ISO 8601 with a ``Z`` suffix."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise CanonicalizationError(
            "naive datetime refused: give a timezone-aware datetime",
            code=ErrorCode.NAIVE_DATETIME,
        )
    text = moment.astimezone(UTC).replace(tzinfo=None).isoformat()
    return text + "Z"


def normalize(value: Any, *, _path: str = "$") -> JsonValue:
    """Return the canonical JSON-compatible form of ``value`` or raise."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, float):
        raise CanonicalizationError(
            f"float at {_path} refused in hashed data: encode it as a decimal string",
            code=ErrorCode.FLOAT_NOT_ALLOWED,
            details={"path": _path},
        )
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise CanonicalizationError(
                f"non-finite decimal at {_path} refused", code=ErrorCode.FLOAT_NOT_ALLOWED
            )
        return str(value)
    if isinstance(value, datetime):
        return format_utc(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        out: dict[str, JsonValue] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise CanonicalizationError(
                    f"non-string key {key!r} at {_path}", code=ErrorCode.NON_STRING_KEY
                )
            nkey = unicodedata.normalize("NFC", key)
            if nkey in out:
                raise CanonicalizationError(
                    f"duplicate key {nkey!r} at {_path} after NFC normalisation",
                    code=ErrorCode.DUPLICATE_KEY,
                )
            out[nkey] = normalize(item, _path=f"{_path}.{nkey}")
        return out
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        return [normalize(item, _path=f"{_path}[{i}]") for i, item in enumerate(value)]
    raise CanonicalizationError(
        f"value of type {type(value).__name__} at {_path} is not JSON",
        code=ErrorCode.UNSUPPORTED_TYPE,
    )


def canonical_form(value: Any) -> tuple[JsonValue, bytes]:
    """The canonical form of ``value`` (plain JSON types, what its bytes parse
    back to) and its canonical UTF-8 bytes."""
    normalized = normalize(value)
    text = json.dumps(
        normalized, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return normalized, text.encode("utf-8")


def canonical_json(value: Any) -> bytes:
    """The canonical UTF-8 bytes of ``value``."""
    return canonical_form(value)[1]


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def canonical_hash(value: Any) -> str:
    """SHA-256 hex digest of the canonical JSON of ``value``."""
    return sha256_hex(canonical_json(value))


def _refuse_float(text: str) -> Any:
    raise CanonicalizationError(
        f"number {text} has a fraction or exponent: encode decimals as strings",
        code=ErrorCode.FLOAT_NOT_ALLOWED,
    )


def _refuse_constant(text: str) -> Any:
    raise CanonicalizationError(f"{text} is not valid JSON", code=ErrorCode.FLOAT_NOT_ALLOWED)


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, item in pairs:
        if key in out:
            raise CanonicalizationError(
                f"duplicate key {key!r} in JSON", code=ErrorCode.DUPLICATE_KEY
            )
        out[key] = item
    return out


def parse_json_strict(data: bytes | str) -> JsonValue:
    """Parse JSON meant for hashing: floats, NaN and duplicate keys are refused."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError as exc:
        raise CanonicalizationError("JSON must be UTF-8", code=ErrorCode.INVALID_JSON) from exc
    try:
        parsed = json.loads(
            text,
            parse_float=_refuse_float,
            parse_constant=_refuse_constant,
            object_pairs_hook=_unique_pairs,
        )
    except json.JSONDecodeError as exc:
        raise CanonicalizationError(
            f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
            code=ErrorCode.INVALID_JSON,
        ) from exc
    return normalize(parsed)
