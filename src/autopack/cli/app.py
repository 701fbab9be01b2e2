"""Root command. Exit codes: see ``EXIT_CODES`` in cli/_common.py."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from typing import Annotated, Any

import typer
import typer.core
import typer.main
from typer.models import TyperInfo

from autopack import __version__
from autopack.cli._common import EXIT_MEANINGS, err, exit_for, out

HELP = (
    "Autopack: a safety kernel for autonomous software that acts in the real world.\n\n"
    "Settings come from AUTOPACK_* environment variables (see .env.example). Run it\n"
    "from the workspace (the directory holding .autonomous_runs/) or set\n"
    "AUTOPACK_WORKSPACE; `autopack db upgrade` creates the database.\n\n"
    "Exit codes: " + ", ".join(f"{code} {meaning}" for code, meaning in EXIT_MEANINGS) + ".\n"
)

# Each top-level command by name -> "module:attribute" (a Typer group or a command
# function). They are imported on first use, so `autopack actions list` does not
# load the web server, the docs checker or the fake servers; `--help` loads all.
COMMANDS: dict[str, str] = {
    "serve": "autopack.cli.serve:serve",
    "worker": "autopack.cli.worker:worker",
    "db": "autopack.cli.db:app",
    "runs": "autopack.cli.runs:app",
    "docs": "autopack.cli.docs:app",
    "workspace": "autopack.cli.docs:workspace_app",
    "sandbox": "autopack.cli.sandbox:app",
    "fakes": "autopack.cli.fakes:app",
    "providers": "autopack.cli.providers:app",
    "packets": "autopack.cli.packets:app",
    "credentials": "autopack.cli.credentials:app",
    "fake-oauth": "autopack.cli.fake_oauth:app",
    "actions": "autopack.cli.actions:app",
    "approvals": "autopack.cli.approvals:app",
    "halt": "autopack.cli.halt:app",
    "principals": "autopack.cli.principals:app",
    "policy": "autopack.cli.policy:app",
    "notify": "autopack.cli.notify:app",
    "handoff": "autopack.cli.handoff:app",
    "memory": "autopack.cli.memory:app",
    "trading": "autopack.cli.trading:app",
}


def load_command(name: str) -> Any:
    """Import one top-level command and build its click command."""
    module_name, attribute = COMMANDS[name].split(":")
    target = getattr(importlib.import_module(module_name), attribute)
    if isinstance(target, typer.Typer):
        # What `add_typer` would build: a group even with one command, rendered
        # with the root's settings (plain-text help, no rich markup).
        command: Any = typer.main.get_group_from_info(
            TyperInfo(target),
            pretty_exceptions_short=app.pretty_exceptions_short,
            rich_markup_mode=app.rich_markup_mode,
            suggest_commands=app.suggest_commands,
        )
    else:
        # A lone command function: a one-command Typer builds it as that command.
        single = typer.Typer(add_completion=False, rich_markup_mode=None)
        single.command(name)(target)
        command = typer.main.get_command(single)
    command.name = name
    return command


class _LazyCommands(MutableMapping[str, Any]):
    """The root group's command table: names known up front, commands built on access."""

    def __init__(self, eager: Mapping[str, Any], loader: Callable[[str], Any]) -> None:
        self._loaded: dict[str, Any] = dict(eager)
        self._loader = loader
        self._names = [*COMMANDS, *(n for n in eager if n not in COMMANDS)]

    def __getitem__(self, name: str) -> Any:
        if name not in self._loaded:
            if name not in COMMANDS:
                raise KeyError(name)
            self._loaded[name] = self._loader(name)
        return self._loaded[name]

    def __setitem__(self, name: str, command: Any) -> None:
        if name not in self._names:
            self._names.append(name)
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        self._names.remove(name)
        self._loaded.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._names))

    def __len__(self) -> int:
        return len(self._names)

    def __contains__(self, name: object) -> bool:
        return name in self._names


class LazyGroup(typer.core.TyperGroup):
    """The root command group; its subcommands load when first resolved."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = _LazyCommands(self.commands, load_command)


app = typer.Typer(
    cls=LazyGroup,
    help=HELP,
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        out(f"autopack {__version__}")
        raise typer.Exit


@app.callback()
def root(
    _version_flag: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Autopack command line."""


def main(argv: list[str] | None = None) -> None:
    """Entry point: every error becomes one line on stderr and its exit code (exit_for)."""
    try:
        app(args=argv, prog_name="autopack")
    except KeyboardInterrupt:
        err("interrupted")
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - last line of defence: no traceback for users
        code, line = exit_for(exc)
        err(line)
        sys.exit(code)
