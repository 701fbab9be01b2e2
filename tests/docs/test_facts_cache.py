"""The facts cache: same results warm as cold, keyed by content, rebuilt when damaged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from docs_support import make_repo, minimal_registry, run_cli

from autopack.governance.cache import CACHE_NAME, FactsCache, decode, encode
from autopack.governance.markdown import parse_markdown
from autopack.governance.repo import git_dir
from autopack.governance.view import RepoView

DOC = "# Title\n\n## Part `one`\n\n[self](#part-one) [img](pic.png)\n\n```bash\nx\n```\n"


def _cache_file(root: Path) -> Path:
    directory = git_dir(root)
    assert directory is not None
    return directory / "autopack" / CACHE_NAME


def _repo(tmp_path: Path) -> Path:
    reg = minimal_registry(docs={"living": ["README.md", "docs/A.md"], "ledgers": []})
    readme = "# R\n\n[a](docs/A.md#part-one)\n"
    return make_repo(tmp_path, {"README.md": readme, "docs/A.md": DOC, "docs/pic.png": "x"}, reg)


def test_encoding_round_trips() -> None:
    facts = parse_markdown(DOC, code_content=False)
    assert decode(json.loads(json.dumps(encode(facts)))) == facts


def test_warm_run_reuses_facts_and_gives_the_same_result(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _repo(tmp_path)
    cold = run_cli(capsys, "docs", "links", "--root", str(root))
    assert cold[0] == 0
    assert _cache_file(root).is_file()
    view = RepoView(root)
    assert view.cache is not None
    assert len(view.cache.entries) == 2
    assert run_cli(capsys, "docs", "links", "--root", str(root)) == cold
    assert view.facts(["docs/A.md"]) == {
        "docs/A.md": RepoView(root, cache=False).facts(["docs/A.md"])["docs/A.md"]
    }


def test_a_changed_file_is_parsed_again(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _repo(tmp_path)
    assert run_cli(capsys, "docs", "links", "--root", str(root))[0] == 0
    (root / "docs" / "A.md").write_text(
        DOC.replace("## Part `one`", "## Part two"), encoding="utf-8"
    )
    code, out, _ = run_cli(capsys, "docs", "links", "--root", str(root))
    assert code == 1
    assert "README.md:3:5: LINK-ANCHOR" in out


@pytest.mark.parametrize(
    "damage",
    [
        "not json",
        json.dumps({"stamp": "0/old", "entries": {}}),
        json.dumps({"stamp": None, "entries": []}),
    ],
)
def test_a_damaged_or_foreign_cache_is_rebuilt(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: str
) -> None:
    root = _repo(tmp_path)
    _cache_file(root).parent.mkdir(parents=True)
    _cache_file(root).write_text(damage, encoding="utf-8")
    assert run_cli(capsys, "docs", "links", "--root", str(root))[0] == 0
    assert json.loads(_cache_file(root).read_text(encoding="utf-8"))["entries"]


def test_a_damaged_entry_is_a_miss(tmp_path: Path) -> None:
    cache = FactsCache(tmp_path / "c.json")
    cache.entries["k"] = [[["x"]], [], [], []]
    assert cache.get("k") is None


def test_the_cache_is_pruned_to_what_a_run_used_once_it_is_large(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    cache = FactsCache(path)
    facts = parse_markdown(DOC, code_content=False)
    for key in ("a", "b", "c"):
        cache.put(key, facts)
    cache.save(keep_all_below=10)
    again = FactsCache(path)
    assert set(again.entries) == {"a", "b", "c"}
    assert again.get("a") == facts
    again.put("d", facts)
    again.save(keep_all_below=3)
    assert set(FactsCache(path).entries) == {"a", "d"}
