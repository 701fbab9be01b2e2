"""The `autopack` command line."""

from autopack.cli.app import main

__all__ = ["main"]
