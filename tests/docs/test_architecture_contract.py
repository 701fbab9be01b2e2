"""docs/ARCHITECTURE.md lists the import-linter layers exactly as pyproject.toml declares them."""

from __future__ import annotations

import tomllib

from docs_support import facts, read


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
