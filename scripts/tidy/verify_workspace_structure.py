"""Workspace structure verifier: `python scripts/tidy/verify_workspace_structure.py`.

A thin wrapper over `autopack workspace verify` (same flags, same exit codes:
0 clean, 1 misplaced or unknown files, 2 bad input). Defaults to this repository.
"""

from __future__ import annotations

import sys
from pathlib import Path

from autopack.cli.app import main

ROOT = Path(__file__).resolve().parent.parent.parent

if __name__ == "__main__":
    # A later --root on the command line wins over this default.
    main(["workspace", "verify", "--root", str(ROOT), *sys.argv[1:]])
