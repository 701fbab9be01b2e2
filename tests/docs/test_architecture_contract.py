"""docs/ARCHITECTURE.md lists the import-linter layers exactly as pyproject.toml declares them."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from docs_support import REPO, facts, read


def _declared_layers() -> list[str]:
    contracts = tomllib.loads(read("pyproject.toml"))["tool"]["importlinter"]["contracts"]
    layers = next(c["layers"] for c in contracts if c["type"] == "layers")
    return [" | ".join(part.strip() for part in layer.split("|")) for layer in layers]


def test_documented_layers_equal_import_linter() -> None:
    doc = facts("docs/ARCHITECTURE.md")
    layers_heading = next(h for h in doc.headings if h.text == "Layers")
    block = next(b for b in doc.code_blocks if b.start > layers_heading.line)
    documented = [line.strip() for line in block.content.splitlines() if line.strip()]
    assert documented == _declared_layers()


def test_every_layer_package_is_described() -> None:
    text = read("docs/ARCHITECTURE.md")
    packages = {
        p.strip().removeprefix("autopack.")
        for layer in _declared_layers()
        for p in layer.split("|")
    }
    assert [p for p in sorted(packages) if f"**{p}**" not in text] == []


def test_documented_gates_equal_the_dispatch_pipeline() -> None:
    from autopack.domain.gates.pipeline import DISPATCH_GATES

    doc = facts("docs/ARCHITECTURE.md")
    heading = next(h for h in doc.headings if h.text == "The gate pipeline")
    block = next(b for b in doc.code_blocks if b.start > heading.line)
    documented = [tuple(line.split()) for line in block.content.splitlines() if line.strip()]
    assert documented == [(gate.name, type(gate).__module__) for gate in DISPATCH_GATES]


def _section(doc_text: str, heading: str) -> str:
    start = doc_text.index(f"## {heading}\n")
    rest = doc_text[start + len(heading) + 4 :]
    end = rest.find("\n## ")
    return rest if end < 0 else rest[:end]


def test_how_to_add_a_provider_names_the_real_registry() -> None:
    import re

    from autopack.providers import registry
    from autopack.providers.unit import ProviderUnit

    section = _section(read("docs/ARCHITECTURE.md"), "How to add a provider")
    registry_file = "src/autopack/providers/registry.py"
    assert f"`{registry_file}`" in section
    assert (REPO / registry_file).is_file()
    assert Path(registry.__file__).resolve() == (REPO / registry_file).resolve()
    assert "`PROVIDERS`" in section
    assert all(isinstance(unit, ProviderUnit) for unit in registry.PROVIDERS)
    # Every file and every part the section names exists.
    for path in re.findall(r"`(src/[^`<]+)`", section):
        assert (REPO / path).exists(), path
    for part in ("adapter_factory", "credential_profile", "actions", "redaction_rules"):
        assert f"`{part}`" in section
        assert part in ProviderUnit.__dataclass_fields__
    assert "`settings`" in section
    # The independence contract it names lists exactly the registered units.
    contracts = tomllib.loads(read("pyproject.toml"))["tool"]["importlinter"]["contracts"]
    independent = next(c for c in contracts if c["type"] == "independence")
    assert "Provider units are independent" in independent["name"]
    assert sorted(independent["modules"]) == sorted(
        f"autopack.providers.{unit.name}" for unit in registry.PROVIDERS
    )


def test_the_provider_packages_are_described() -> None:
    from autopack.providers import registry

    layers = _section(read("docs/ARCHITECTURE.md"), "Layers")
    assert all(f"`{unit.name}/`" in layers for unit in registry.PROVIDERS)
    for module in ("unit.py", "registry.py", "_http.py"):
        assert f"`{module}`" in layers
        assert (REPO / "src/autopack/providers" / module).is_file()


@pytest.mark.parametrize(
    "package",
    [
        "src/autopack/domain",
        "src/autopack/services/credentials",
        "src/autopack/services/ledger",
        "src/autopack/services/trading",
    ],
)
def test_every_module_of_a_package_is_described(package: str) -> None:
    layers = _section(read("docs/ARCHITECTURE.md"), "Layers")
    modules = sorted(p.name for p in (REPO / package).glob("*.py") if p.name != "__init__.py")
    assert modules
    assert [m for m in modules if f"`{m}`" not in layers] == []
    for module in ("context.py", "runtime.py", "providers.py"):
        assert f"`{module}`" in layers
        assert (REPO / "src/autopack/services" / module).is_file()


def test_documented_artifact_sources_equal_the_registry() -> None:
    """The "Artifact sources" block names every source in registry order; a file
    source's line gives its glob and whether run memory indexes it."""
    from autopack.services.artifacts import ARTIFACT_SOURCES, HANDOFF_FILES, FileSource

    doc = facts("docs/ARCHITECTURE.md")
    heading = next(h for h in doc.headings if h.text == "Artifact sources")
    block = next(b for b in doc.code_blocks if b.start > heading.line)
    documented = [line.split(maxsplit=1) for line in block.content.splitlines() if line.strip()]
    expected: list[list[str]] = []
    for source in (*ARTIFACT_SOURCES, *HANDOFF_FILES):
        if isinstance(source, FileSource):
            indexed = "indexed" if source.indexed else "not indexed"
            expected.append([source.kind, f"{source.pattern} {indexed}"])
        else:
            name = getattr(source, "__name__", "")
            described = next((rest for first, rest in documented if first == name), "")
            expected.append([name, described])
    assert [[first, " ".join(rest.split())] for first, rest in documented] == [
        [first, " ".join(rest.split())] for first, rest in expected
    ]
    assert all(rest for _, rest in expected)  # every function source is described
