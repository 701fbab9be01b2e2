"""README summary block from the ledgers: `python scripts/tidy/sot_summary_refresh.py --check`.

`--execute` rewrites the block (`--force` also replaces a hand-edited one).
A thin wrapper over `autopack docs summary` (same flags, same exit codes:
0 current, 1 stale or hand-edited, 2 bad input). Defaults to this repository.
"""

from __future__ import annotations

import sys
from pathlib import Path

from autopack.cli.app import main

ROOT = Path(__file__).resolve().parent.parent.parent

if __name__ == "__main__":
    # A later --root on the command line wins over this default.
    main(["docs", "summary", "--root", str(ROOT), *sys.argv[1:]])
