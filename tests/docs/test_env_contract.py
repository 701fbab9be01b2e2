"""`.env.example` and docs/CONFIG_GUIDE.md list exactly the fields of Settings, with defaults."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from docs_support import REPO, living_docs, read, registry
from pydantic import SecretStr

from autopack.governance.contracts import documented_settings, env_template_vars
from autopack.settings import ENV_PREFIX, Settings

GUIDE = "docs/CONFIG_GUIDE.md"
_VAR = re.compile(rf"\b{ENV_PREFIX}[A-Z0-9_]+\b")


def expected_vars() -> list[str]:
    return [ENV_PREFIX + name.upper() for name in Settings.model_fields]


def shown_default(name: str) -> str:
    """How the docs write a field's default: unset, or its value as a string."""
    default = Settings.model_fields[name].default
    if default is None:
        return "(unset)"
    if isinstance(default, SecretStr):
        return "(secret)"
    if isinstance(default, Path):
        return default.as_posix()
    return str(default)


def _template_vars() -> dict[str, str]:
    env = registry().env_template
    assert env is not None
    return env_template_vars(read(env))


def test_env_template_lists_every_setting_in_code_order() -> None:
    listed = [name for name in _template_vars() if name.startswith(ENV_PREFIX)]
    expected = expected_vars()
    lines = "\n".join(
        f"{var}={'' if shown_default(f) == '(unset)' else shown_default(f)}"
        for var, f in zip(expected, Settings.model_fields, strict=True)
    )
    assert listed == expected, f"make the AUTOPACK_* lines of .env.example:\n{lines}"


def test_env_template_values_are_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith(ENV_PREFIX):
            monkeypatch.delenv(key)
    env = registry().env_template
    assert env is not None
    from_template = Settings(_env_file=REPO / env)
    assert from_template == Settings(_env_file=None)


def test_config_guide_documents_every_setting_with_its_default() -> None:
    documented = documented_settings(read(GUIDE))
    expected = expected_vars()
    sections = "\n\n".join(
        f"### {var}\n\n- Default: `{shown_default(field)}`\n"
        f"- {Settings.model_fields[field].description}"
        for var, field in zip(expected, Settings.model_fields, strict=True)
    )
    assert list(documented) == expected, f"{GUIDE} '## Settings' must hold, in order:\n{sections}"
    wrong = [
        f"{GUIDE}:{doc.line}: {doc.name}: Default {doc.default!r}, "
        f"code says {shown_default(field)!r}"
        for doc, field in zip(documented.values(), Settings.model_fields, strict=True)
        if doc.default != shown_default(field)
    ]
    assert not wrong, "\n".join(wrong)


def _test_only_vars() -> list[str]:
    text = read(GUIDE)
    section = text.split("## Variables for tests and benchmarks", 1)[1].split("\n## ", 1)[0]
    return sorted(set(_VAR.findall(section)))


def test_test_only_variables_are_really_read_by_tests_or_benchmarks() -> None:
    sources = [
        p for d in ("tests", "bench") for p in (REPO / d).rglob("*.py") if "docs" not in p.parts
    ]
    text = "\n".join(p.read_text(encoding="utf-8") for p in sources)
    unused = [var for var in _test_only_vars() if var not in text]
    assert _test_only_vars()
    assert not unused, f"documented but read by no test or bench: {unused}"


@pytest.mark.parametrize("rel", living_docs())
def test_living_docs_mention_only_real_variables(rel: str) -> None:
    known = set(expected_vars()) | set(_test_only_vars())
    unknown = sorted(set(_VAR.findall(read(rel))) - known)
    assert not unknown, f"{rel} mentions variables that are not settings: {unknown}"


def test_non_autopack_template_variables_are_exactly_the_compose_ones() -> None:
    compose = registry().compose
    assert compose is not None
    used = set(re.findall(r"\$\{([A-Z0-9_]+)", read(compose.file)))
    others = {name for name in _template_vars() if not name.startswith(ENV_PREFIX)}
    assert others == {name for name in used if not name.startswith(ENV_PREFIX)}
    assert {name for name in used if name.startswith(ENV_PREFIX)} <= set(expected_vars())
    guide = read(GUIDE).split("## Docker Compose variables", 1)[1]
    assert all(f"`{name}`" in guide for name in others)
