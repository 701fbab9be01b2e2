"""Canonical JSON and hashing: the one implementation every hash relies on."""

from __future__ import annotations

import json
import subprocess
import sys
import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from autopack.domain.canonical import (
    CanonicalizationError,
    canonical_hash,
    canonical_json,
    format_utc,
    parse_json_strict,
)

json_leaf = st.none() | st.booleans() | st.integers() | st.text()
json_values = st.recursive(
    json_leaf,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=20,
)


@given(st.dictionaries(st.text(), json_values, min_size=1, max_size=8), st.randoms())
def test_key_order_never_changes_the_hash(mapping: dict[str, Any], rnd: Any) -> None:
    items = list(mapping.items())
    rnd.shuffle(items)
    assert canonical_hash(dict(items)) == canonical_hash(mapping)


@given(st.dictionaries(st.text(min_size=1), st.integers(), min_size=1), st.data())
def test_any_value_change_changes_the_hash(mapping: dict[str, int], data: st.DataObject) -> None:
    key = data.draw(st.sampled_from(sorted(mapping)))
    changed = dict(mapping)
    changed[key] = mapping[key] + data.draw(st.integers(min_value=1))
    assert canonical_hash(changed) != canonical_hash(mapping)


@given(json_values)
def test_output_is_valid_sorted_compact_utf8(value: Any) -> None:
    raw = canonical_json(value)
    decoded = json.loads(raw.decode("utf-8"))
    # Re-encoding the parsed output is a fixed point.
    assert canonical_json(decoded) == raw
    assert b"\n" not in raw


def test_output_is_byte_identical_across_processes() -> None:
    value = {"b": [1, "\u00e9", {"z": None, "a": True}], "a": "x", "\u00c5": 2}
    code = (
        "import sys; from autopack.domain.canonical import canonical_json;"
        f"sys.stdout.buffer.write(canonical_json({value!r}))"
    )
    runs = {
        subprocess.run([sys.executable, "-c", code], capture_output=True, check=True).stdout
        for _ in range(2)
    }
    assert runs == {canonical_json(value)}


def test_known_vector() -> None:
    # Pinned bytes and digest: a change here breaks every stored hash.
    value = {"b": 1, "a": ["x", None, True], "c": {"\u00e9": "caf\u00e9"}}
    assert (
        canonical_json(value) == '{"a":["x",null,true],"b":1,"c":{"\u00e9":"caf\u00e9"}}'.encode()
    )
    assert canonical_hash(value) == (
        "68757266b34237749620378177dccaea02f461847919079391e85114dabeedc0"
    )


def test_strings_and_keys_are_nfc_normalised() -> None:
    decomposed = unicodedata.normalize("NFD", "caf\u00e9")
    assert decomposed != "caf\u00e9"
    assert canonical_hash({decomposed: decomposed}) == canonical_hash({"caf\u00e9": "caf\u00e9"})


def test_keys_colliding_after_nfc_are_refused() -> None:
    with pytest.raises(CanonicalizationError) as info:
        canonical_json({"caf\u00e9": 1, unicodedata.normalize("NFD", "caf\u00e9"): 2})
    assert info.value.code == "duplicate_key"


@pytest.mark.parametrize("bad", [1.5, float("nan"), float("inf"), {"a": [0.1]}])
def test_floats_are_refused(bad: Any) -> None:
    with pytest.raises(CanonicalizationError) as info:
        canonical_json(bad)
    assert info.value.code == "float_not_allowed"


def test_decimals_are_encoded_as_strings() -> None:
    assert canonical_json({"price": Decimal("19.90")}) == b'{"price":"19.90"}'
    with pytest.raises(CanonicalizationError):
        canonical_json(Decimal("NaN"))


def test_datetimes_are_utc_with_z() -> None:
    plus_two = timezone(timedelta(hours=2))
    moment = datetime(2026, 1, 2, 5, 4, 5, tzinfo=plus_two)
    assert format_utc(moment) == "2026-01-02T03:04:05Z"
    assert canonical_json({"t": moment}) == b'{"t":"2026-01-02T03:04:05Z"}'
    assert canonical_json(datetime(2026, 1, 2, tzinfo=UTC)) == b'"2026-01-02T00:00:00Z"'
    with pytest.raises(CanonicalizationError) as info:
        canonical_json(datetime(2026, 1, 2))  # noqa: DTZ001 - the naive value is the point
    assert info.value.code == "naive_datetime"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ('{"a": 1.0}', "float_not_allowed"),
        ('{"a": 1e3}', "float_not_allowed"),
        ('{"a": NaN}', "float_not_allowed"),
        ('{"a": 1, "a": 2}', "duplicate_key"),
        ('{"a": ', "invalid_json"),
        (b"\xff\xfe", "invalid_json"),
    ],
)
def test_strict_parse_refuses(text: str | bytes, code: str) -> None:
    with pytest.raises(CanonicalizationError) as info:
        parse_json_strict(text)
    assert info.value.code == code


def test_strict_parse_accepts_and_normalises() -> None:
    parsed = parse_json_strict('{"b": [1, "x"], "a": {"c": null}}')
    assert parsed == {"a": {"c": None}, "b": [1, "x"]}


def test_unsupported_types_are_refused() -> None:
    with pytest.raises(CanonicalizationError) as info:
        canonical_json({"a": b"bytes"})
    assert info.value.code == "unsupported_type"
    with pytest.raises(CanonicalizationError) as info:
        canonical_json({1: "x"})
    assert info.value.code == "non_string_key"
