"""The curated public API: a change to it is deliberate."""

from __future__ import annotations

import autopack


def test_public_names_are_pinned() -> None:
    assert sorted(autopack.__all__) == [
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
    for name in autopack.__all__:
        assert hasattr(autopack, name), name


def test_every_error_is_an_autopack_error_with_a_code() -> None:
    for name in autopack.__all__:
        obj = getattr(autopack, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, autopack.AutopackError)
            assert obj("x").code
