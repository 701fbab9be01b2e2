"""Offline link and anchor checker: `python scripts/check_doc_links.py [--root PATH]`.

A thin wrapper over `autopack docs links` (same flags, same exit codes:
0 clean, 1 broken links, 2 bad input). Defaults to this repository.
"""

from __future__ import annotations

import sys
from pathlib import Path

from autopack.cli.app import main

ROOT = Path(__file__).resolve().parent.parent

if __name__ == "__main__":
    # A later --root on the command line wins over this default.
    main(["docs", "links", "--root", str(ROOT), *sys.argv[1:]])
