"""``python -m autopack``: the same as the ``autopack`` command."""

from autopack.cli import main

if __name__ == "__main__":
    main()
