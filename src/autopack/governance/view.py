"""One view of a repository shared by the checks: registry, file list, parsed docs.

Running several checks over one view parses each Markdown file once; with the
facts cache (see ``cache.py``) unchanged files are not parsed again at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from autopack.governance.cache import CACHE_NAME, FactsCache, content_key
from autopack.governance.markdown import (
    MarkdownFacts,
    decode_text,
    is_markdown,
    parse_many_packed,
    read_bytes,
    read_text,
)
from autopack.governance.registry import LoadedRegistry, Registry, load_registry
from autopack.governance.repo import directories_of, git_dir, list_repo_files


class RepoView:
    def __init__(self, root: Path, *, jobs: int | None = None, cache: bool = True) -> None:
        self.loaded: LoadedRegistry = load_registry(root)
        self.root = root
        self.files: list[str] = list_repo_files(root)
        self.file_set = frozenset(self.files)
        self.jobs = jobs
        self.cache = FactsCache(git_dir(root) / "autopack" / CACHE_NAME) if cache else None
        self._dirs: frozenset[str] | None = None
        self._facts: dict[str, MarkdownFacts] = {}
        self._texts: dict[str, str] = {}

    @property
    def registry(self) -> Registry:
        return self.loaded.registry

    @property
    def directories(self) -> frozenset[str]:
        if self._dirs is None:
            self._dirs = frozenset(directories_of(self.files))
        return self._dirs

    def markdown_files(self) -> list[str]:
        return [path for path in self.files if is_markdown(path)]

    def exists(self, rel: str) -> bool:
        return rel in self.file_set

    def text(self, rel: str) -> str:
        if rel not in self._texts:
            self._texts[rel] = read_text(self.root, rel)
        return self._texts[rel]

    def facts(self, rels: Sequence[str]) -> dict[str, MarkdownFacts]:
        missing = [rel for rel in rels if rel not in self._facts]
        if missing:
            # Each file is read once: its bytes give the cache key, its text is
            # parsed on a miss and kept for checks that scan it (drift).
            to_parse: dict[str, str] = {}
            keys: dict[str, str] = {}
            for rel in missing:
                data = read_bytes(self.root, rel)
                if self.cache is not None:
                    keys[rel] = content_key(data)
                    hit = self.cache.get(keys[rel])
                    if hit is not None:
                        self._facts[rel] = hit
                        continue
                to_parse[rel] = self._texts[rel] = decode_text(rel, data)
            for rel, (found, packed) in parse_many_packed(to_parse, jobs=self.jobs).items():
                self._facts[rel] = found
                if self.cache is not None:
                    self.cache.put_packed(keys[rel], packed)
        return {rel: self._facts[rel] for rel in rels}

    def facts_of(self, rel: str) -> MarkdownFacts:
        """One file's facts (parsed on demand, like ``facts``)."""
        found = self._facts.get(rel)
        return found if found is not None else self.facts([rel])[rel]

    def save_cache(self) -> None:
        """Write the facts cache back (a no-op when nothing changed)."""
        if self.cache is not None:
            self.cache.save(keep_all_below=2 * len(self.markdown_files()) + 100)
