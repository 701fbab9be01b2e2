"""Regenerate the hash-pinned lock files from pyproject.toml.

Usage: python scripts/lock.py

The locks are universal (every platform's markers resolved, so Windows gets
colorama) and carry hashes but no index URL, so they never name a registry host.
Needs `uv` on PATH or in the project venv (`pip install uv`).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCKS = {
    "requirements.lock.txt": ["--extra", "build"],
    "requirements-dev.lock.txt": ["--extra", "dev"],
}


def main() -> int:
    uv = shutil.which("uv") or shutil.which("uv", path=str(Path(sys.executable).parent))
    if uv is None:
        print("uv not found: pip install uv", file=sys.stderr)
        return 3
    for name, extras in LOCKS.items():
        cmd = [
            uv,
            "pip",
            "compile",
            "pyproject.toml",
            *extras,
            "--universal",
            "--generate-hashes",
            "--python-version",
            "3.11",
            "--custom-compile-command",
            "python scripts/lock.py",
            "--quiet",
            "-o",
            name,
        ]
        subprocess.run(cmd, cwd=ROOT, check=True)
        print(f"wrote {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
