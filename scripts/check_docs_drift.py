"""Drift checker for the living docs: `python scripts/check_docs_drift.py [--root PATH]`.

A thin wrapper over `autopack docs drift` (same flags, same exit codes:
0 clean, 1 drift found, 2 bad input). Defaults to this repository.
"""

from __future__ import annotations

import sys
from pathlib import Path

from autopack.cli.app import main

ROOT = Path(__file__).resolve().parent.parent

if __name__ == "__main__":
    # A later --root on the command line wins over this default.
    main(["docs", "drift", "--root", str(ROOT), *sys.argv[1:]])
