"""``python -m autopack.fake_oauth``: the fast entry, same options as
``autopack fake-oauth serve``. Exit codes: 0 stopped, 2 bad options or address.
"""

from __future__ import annotations

import argparse
import sys

from autopack.fake_oauth.server import DEFAULT_ACCESS_TTL, serve


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m autopack.fake_oauth", description="Run the fake OAuth server."
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--access-ttl", type=int, default=DEFAULT_ACCESS_TTL)
    parser.add_argument("--refresh-ttl", type=int, default=None)
    parser.add_argument("--verbose", action="store_true", help="log every request on stderr")
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error("--port must be within 0..65535")
    try:
        serve(
            args.host,
            args.port,
            access_ttl=args.access_ttl,
            refresh_ttl=args.refresh_ttl,
            verbose=args.verbose,
        )
    except (OSError, ValueError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        sys.exit(2)


if __name__ == "__main__":
    main()
