"""Canonical JSON and hashing: the single implementation in the code base.

Rules: object keys sorted by code point, UTF-8, no insignificant whitespace,
every string (keys too) NFC-normalised, no floats or NaN (encode decimals as
strings or pass ``decimal.Decimal``), datetimes must be timezone-aware and are
written in UTC with a ``Z`` suffix. The hash is SHA-256 of those bytes.

Limits (documented in docs/CANONICAL_API_CONTRACT.md; every interface refuses
beyond them with a stable code, 400 / exit 2): at most ``MAX_NESTING_DEPTH``
nested objects and arrays, integers of at most ``MAX_INTEGER_DIGITS`` decimal
digits, strings of valid Unicode (no lone surrogates, which UTF-8 cannot
encode), and record ids in ``1..MAX_RECORD_ID`` (the schema's 32-bit INTEGER).
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

# Deep enough for any real request body; shallow enough that every later
# serializer (the database driver, the response encoder) handles it.
MAX_NESTING_DEPTH = 64
# What Autopack wraps around a payload (intent, rendered request, events, API
# responses) adds levels: its own documents may go this deep, payloads may not.
MAX_ENVELOPE_DEPTH = MAX_NESTING_DEPTH + 16
# 128-bit integers have 39 digits; Python refuses to convert past 4,300 anyway.
MAX_INTEGER_DIGITS = 40
_INTEGER_BOUND = 10**MAX_INTEGER_DIGITS
# Record ids are INTEGER columns (32-bit on PostgreSQL): a larger id cannot name
# a row, and the driver refuses it (SQLite past 2**63, PostgreSQL past 2**31).
MAX_RECORD_ID = 2**31 - 1

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


def _printable(text: str) -> str:
    """``text`` safe to put in an error message (ASCII, no surrogates), shortened."""
    return text[:60].encode("ascii", "backslashreplace").decode("ascii")


def check_unicode(text: str, path: str) -> None:
    """Refuse text UTF-8 cannot encode (lone surrogates): it cannot be stored or hashed."""
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise CanonicalizationError(
            f"string at {_printable(path)} is not valid Unicode (lone surrogate "
            f"{_printable(text[exc.start : exc.end])}): UTF-8 cannot encode it",
            code=ErrorCode.INVALID_UNICODE,
            details={"path": _printable(path)},
        ) from None


def _check_integer(value: int, path: str) -> None:
    if -_INTEGER_BOUND < value < _INTEGER_BOUND:
        return
    raise CanonicalizationError(
        f"integer at {_printable(path)} has more than {MAX_INTEGER_DIGITS} digits: "
        "encode it as a string",
        code=ErrorCode.INTEGER_TOO_LARGE,
        details={"path": _printable(path), "max_digits": MAX_INTEGER_DIGITS},
    )


def _nesting_error(path: str, max_depth: int) -> CanonicalizationError:
    return CanonicalizationError(
        f"JSON nested deeper than {max_depth} levels at {_printable(path)}",
        code=ErrorCode.NESTING_TOO_DEEP,
        details={"max_depth": max_depth},
    )


def normalize(value: Any, *, max_depth: int = MAX_ENVELOPE_DEPTH) -> JsonValue:
    """Return the canonical JSON-compatible form of ``value`` or raise.

    ``max_depth`` bounds nested objects and arrays (payloads: ``MAX_NESTING_DEPTH``)."""
    return _normalize(value, "$", 0, max_depth)


def _normalize(value: Any, path: str, depth: int, max_depth: int) -> JsonValue:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        _check_integer(value, path)
        return value
    if isinstance(value, str):
        check_unicode(value, path)
        return unicodedata.normalize("NFC", value)
    if isinstance(value, float):
        raise CanonicalizationError(
            f"float at {path} refused in hashed data: encode it as a decimal string",
            code=ErrorCode.FLOAT_NOT_ALLOWED,
            details={"path": path},
        )
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise CanonicalizationError(
                f"non-finite decimal at {path} refused", code=ErrorCode.FLOAT_NOT_ALLOWED
            )
        return str(value)
    if isinstance(value, datetime):
        return format_utc(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        if depth >= max_depth:
            raise _nesting_error(path, max_depth)
        out: dict[str, JsonValue] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise CanonicalizationError(
                    f"non-string key {_printable(repr(key))} at {_printable(path)}",
                    code=ErrorCode.NON_STRING_KEY,
                )
            check_unicode(key, path)
            nkey = unicodedata.normalize("NFC", key)
            if nkey in out:
                raise CanonicalizationError(
                    f"duplicate key {nkey!r} at {path} after NFC normalisation",
                    code=ErrorCode.DUPLICATE_KEY,
                )
            out[nkey] = _normalize(item, f"{path}.{nkey}", depth + 1, max_depth)
        return out
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        if depth >= max_depth:
            raise _nesting_error(path, max_depth)
        return [
            _normalize(item, f"{path}[{i}]", depth + 1, max_depth) for i, item in enumerate(value)
        ]
    raise CanonicalizationError(
        f"value of type {type(value).__name__} at {path} is not JSON",
        code=ErrorCode.UNSUPPORTED_TYPE,
    )


def canonical_form(value: Any, *, max_depth: int = MAX_ENVELOPE_DEPTH) -> tuple[JsonValue, bytes]:
    """The canonical form of ``value`` (plain JSON types, what its bytes parse
    back to) and its canonical UTF-8 bytes."""
    normalized = normalize(value, max_depth=max_depth)
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


def _bounded_int(text: str) -> int:
    # Checked on the text: int() of a huge literal is slow, and refused past 4,300 digits.
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise CanonicalizationError(
            f"integer of {len(text.lstrip('-'))} digits: at most {MAX_INTEGER_DIGITS}; "
            "encode it as a string",
            code=ErrorCode.INTEGER_TOO_LARGE,
            details={"max_digits": MAX_INTEGER_DIGITS},
        )
    return int(text)


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, item in pairs:
        if key in out:
            raise CanonicalizationError(
                f"duplicate key {key!r} in JSON", code=ErrorCode.DUPLICATE_KEY
            )
        out[key] = item
    return out


def parse_json_strict(data: bytes | str, *, max_depth: int = MAX_ENVELOPE_DEPTH) -> JsonValue:
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
            parse_int=_bounded_int,
            object_pairs_hook=_unique_pairs,
        )
    except RecursionError:
        # The decoder recurses per level: far beyond the limit it runs out of stack.
        raise _nesting_error("$", max_depth) from None
    except json.JSONDecodeError as exc:
        raise CanonicalizationError(
            f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
            code=ErrorCode.INVALID_JSON,
        ) from exc
    return normalize(parsed, max_depth=max_depth)
