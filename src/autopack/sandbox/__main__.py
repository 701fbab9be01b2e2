"""``python -m autopack.sandbox``: the fast entry (no CLI framework), same options as
``autopack sandbox serve``. Exit codes: 0 stopped, 2 bad options or address.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autopack.domain.errors import AutopackError
from autopack.domain.sandbox_protocol import Mode, default_store_path
from autopack.sandbox.server import SandboxStartError, ServeOptions, read_token, serve
from autopack.settings import DEFAULT_HOST, DEFAULT_SANDBOX_PORT, load_settings


def parse_args(argv: list[str] | None = None) -> ServeOptions:
    parser = argparse.ArgumentParser(
        prog="python -m autopack.sandbox", description="Run the sandbox provider."
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help="loopback address to bind")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_SANDBOX_PORT, help="0 picks a free port"
    )
    parser.add_argument("--mode", choices=[m.value for m in Mode], default=Mode.IDEMPOTENT.value)
    parser.add_argument(
        "--store",
        type=Path,
        default=None,
        help="SQLite file of the effects "
        "[default: <workspace>/.autonomous_runs/_autopack/sandbox.db]",
    )
    parser.add_argument("--fault-plan", type=Path, default=None, help="JSON faults to queue")
    parser.add_argument(
        "--token-file",
        type=Path,
        default=None,
        help="file holding a bearer token the /v1 routes then require",
    )
    parser.add_argument("--verbose", action="store_true", help="log every request on stderr")
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error("--port must be within 0..65535")
    store: Path = args.store or default_store_path(load_settings().workspace_path)
    return ServeOptions(
        host=args.host,
        port=args.port,
        mode=Mode(args.mode),
        store=store,
        fault_plan=args.fault_plan,
        token=read_token(args.token_file),
        verbose=args.verbose,
    )


def main(argv: list[str] | None = None) -> None:
    try:
        options = parse_args(argv)
        serve(options)
    except (SandboxStartError, AutopackError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        sys.exit(2)


if __name__ == "__main__":
    main()
