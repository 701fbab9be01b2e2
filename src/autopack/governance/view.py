"""One view of a repository shared by the checks: registry, file list, parsed docs.

Running several checks over one view parses each Markdown file once; with the
facts cache (see ``cache.py``) unchanged files are not parsed again at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from autopack.governance.findings import glob_match
from autopack.governance.markdown_files import decode_text, is_markdown, read_bytes, read_text
from autopack.governance.registry import LoadedRegistry, Registry, is_glob, load_registry
from autopack.governance.repo import directories_of, git_dir, list_repo_files

if TYPE_CHECKING:
    from autopack.governance.cache import FactsCache
    from autopack.governance.markdown import MarkdownFacts


class RepoView:
    def __init__(
        self,
        root: Path,
        *,
        registry: Path | None = None,
        jobs: int | None = None,
        cache: bool = True,
    ) -> None:
        self.loaded: LoadedRegistry = load_registry(root, registry)
        self.root = root
        self.files: list[str] = list_repo_files(root)
        self.file_set = frozenset(self.files)
        self.jobs = jobs
        self._use_cache = cache
        self._cache: FactsCache | None = None
        self._living: tuple[list[str], set[str], set[str]] | None = None
        # Docs a living glob selected and docs.exclude took out (vendored, generated).
        self.excluded: set[str] = set()
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

    def resolve_living(self) -> tuple[list[str], set[str], set[str]]:
        """(living docs, living globs used, exclude globs used).

        An exact path is living if it exists; a glob selects Markdown files.
        Ledgers and files matching ``docs.exclude`` are never living.
        """
        if self._living is None:
            docs = self.registry.docs
            living: set[str] = set()
            used: set[str] = set()
            used_excludes: set[str] = set()
            if docs is not None:
                ledgers = set(self.registry.ledger_paths)
                exact = {p for p in docs.living if not is_glob(p) and self.exists(p)}
                globs = [g for g in docs.living if is_glob(g)]
                for path in self.files:
                    hits = [g for g in globs if is_markdown(path) and glob_match(g, path)]
                    used.update(hits)
                    if (path in exact or hits) and path not in ledgers:
                        excluded = [g for g in docs.exclude if glob_match(g, path)]
                        used_excludes.update(excluded)
                        if excluded:
                            self.excluded.add(path)
                        else:
                            living.add(path)
            self._living = (sorted(living), used, used_excludes)
        return self._living

    def living_docs(self) -> list[str]:
        return self.resolve_living()[0]

    def exists(self, rel: str) -> bool:
        return rel in self.file_set

    def text(self, rel: str) -> str:
        if rel not in self._texts:
            self._texts[rel] = read_text(self.root, rel)
        return self._texts[rel]

    @property
    def cache(self) -> FactsCache | None:
        """The facts cache, loaded on first use (a check that parses nothing never reads it)."""
        if self._cache is None and self._use_cache:
            self._use_cache = False  # decided once
            # The cache lives in the git directory; a plain directory has none to spare.
            directory = git_dir(self.root)
            if directory is not None:
                from autopack.governance.cache import CACHE_NAME, FactsCache

                self._cache = FactsCache(directory / "autopack" / CACHE_NAME)
        return self._cache

    def facts(self, rels: Sequence[str]) -> dict[str, MarkdownFacts]:
        missing = [rel for rel in rels if rel not in self._facts]
        if missing:
            # The parser is imported only when something must be parsed.
            from autopack.governance.cache import content_key
            from autopack.governance.markdown import parse_many_packed

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
        if self._cache is not None:
            self._cache.save(keep_all_below=2 * len(self.markdown_files()) + 100)
