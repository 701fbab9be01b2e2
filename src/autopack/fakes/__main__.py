"""``python -m autopack.fakes``: the fast entry (no CLI framework), same options as
``autopack fakes serve``. Exit codes: 0 stopped, 2 bad options or address.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autopack.domain.errors import AutopackError
from autopack.domain.layout import state_dir
from autopack.fakes.server import FakesOptions, FakesStartError, serve
from autopack.settings import DEFAULT_HOST, load_settings

STORE_NAME = "fakes.db"


def default_store_path(workspace: Path) -> Path:
    """``<workspace>/.autonomous_runs/_autopack/fakes.db``."""
    return state_dir(workspace) / STORE_NAME


def parse_args(argv: list[str] | None = None) -> FakesOptions:
    parser = argparse.ArgumentParser(
        prog="python -m autopack.fakes",
        description="Serve the local fakes of the real providers on one loopback port.",
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help="loopback address to bind")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument(
        "--provider",
        action="append",
        default=[],
        help="serve only this provider's fake (repeatable) [default: every fake]",
    )
    parser.add_argument(
        "--store",
        type=Path,
        default=None,
        help="SQLite file of the effects [default: <workspace>/.autonomous_runs/_autopack/"
        f"{STORE_NAME}]",
    )
    parser.add_argument("--verbose", action="store_true", help="log every request on stderr")
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error("--port must be within 0..65535")
    return FakesOptions(
        host=args.host,
        port=args.port,
        store=args.store or default_store_path(load_settings().workspace_path),
        providers=tuple(args.provider),
        verbose=args.verbose,
    )


def main(argv: list[str] | None = None) -> None:
    try:
        serve(parse_args(argv))
    except (FakesStartError, AutopackError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        sys.exit(2)


if __name__ == "__main__":
    main()
