"""Every ledger has a machine-readable index with unique, ordered, gap-free ids."""

from __future__ import annotations

import pytest
from docs_support import facts, ledger_specs, read

from autopack.governance.ledgers import parse_ledger
from autopack.governance.markdown import parse_markdown
from autopack.governance.registry import LedgerSpec

LEDGERS = ledger_specs()


@pytest.mark.parametrize("spec", LEDGERS, ids=lambda s: s.path)
def test_ledger_index_is_valid(spec: LedgerSpec) -> None:
    ledger = parse_ledger(spec, read(spec.path), facts(spec.path))
    assert not ledger.findings, "\n".join(f.render() for f in ledger.findings)
    ids = [entry.id for entry in ledger.entries]
    assert ids, f"{spec.path} has no entries"
    assert len(set(ids)) == len(ids)
    assert ids == [f"{spec.id_prefix}-{n:03d}" for n in range(1, len(ids) + 1)]
    dates = [entry.date for entry in ledger.entries]
    assert dates == sorted(dates)


def test_ledger_prefixes_are_distinct() -> None:
    prefixes = [spec.id_prefix for spec in LEDGERS]
    assert sorted(prefixes) == sorted(set(prefixes)) == ["BUILD", "CHG", "DBG", "DEC"]


def test_the_decisions_cover_what_the_code_decided() -> None:
    spec = next(s for s in LEDGERS if s.id_prefix == "DEC")
    titles = " ".join(
        e.title for e in parse_ledger(spec, read(spec.path), facts(spec.path)).entries
    )
    for topic in ("WAL", "_autopack", "default-deny", "hash-pinned", "registry"):
        assert topic in titles


def test_a_gap_in_ids_is_caught() -> None:
    spec = LedgerSpec(path="L.md", id_prefix="X", title="X")
    text = (
        "# L\n\n<!-- LEDGER_INDEX_START -->\n| ID | Date | Title |\n| --- | --- | --- |\n"
        "| X-001 | 2026-01-01 | A |\n| X-003 | 2026-01-02 | C |\n<!-- LEDGER_INDEX_END -->\n\n"
        "## X-001: A\n\n## X-003: C\n"
    )
    ledger = parse_ledger(spec, text, parse_markdown(text))
    assert [f.rule for f in ledger.findings] == ["LEDGER-ORDER"]
