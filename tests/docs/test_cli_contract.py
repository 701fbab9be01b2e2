"""Every `autopack ...` command line in the living docs parses with the real CLI."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence
from typing import Any

import pytest
import typer
import typer.main
from docs_support import facts, living_docs, read, registry

from autopack.cli.app import app
from autopack.governance.contracts import command_lines
from autopack.governance.markdown import parse_markdown

CLI: Any = typer.main.get_command(app)


def click_parse_error(command: Any, argv: Sequence[str], prog: str) -> str | None:
    """None if ``prog argv`` resolves and parses with the real CLI, else the reason.

    Nothing is invoked: each level is only parsed (``make_context``), like the
    CLI does before calling a command. A bare group (``autopack runs``) counts
    as a valid reference to that group. Typer vendors its own click, so errors
    are recognised by their interface (``format_message``), not their class.
    """
    sink = io.StringIO()
    try:
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            _parse_level(command, list(argv), prog, None)
    except typer.Exit as exc:
        return None if exc.exit_code == 0 else f"exits {exc.exit_code}"
    except Exception as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":
            return None
        if hasattr(exc, "format_message"):
            return str(exc.format_message())
        raise
    return None


def _parse_level(command: Any, args: list[str], name: str, parent: Any) -> None:
    ctx = command.make_context(name, args, parent=parent, resilient_parsing=False)
    with ctx:
        if not hasattr(command, "resolve_command"):
            return
        rest = [*ctx._protected_args, *ctx.args]
        if not rest:
            return
        sub_name, sub, sub_args = command.resolve_command(ctx, rest)
        assert sub is not None
        assert sub_name is not None
        _parse_level(sub, sub_args, sub_name, ctx)


def _services() -> list[str]:
    compose = registry().compose
    return compose.services if compose else []


@pytest.mark.parametrize("rel", living_docs())
def test_command_lines_in_living_docs_parse(rel: str) -> None:
    bad = [
        f"{rel}:{cmd.line}: autopack {' '.join(cmd.argv)}: {error}"
        for cmd in command_lines(facts(rel), "autopack", _services())
        if (error := click_parse_error(CLI, cmd.argv, "autopack")) is not None
    ]
    assert not bad, "\n".join(bad)


def test_the_docs_do_show_commands() -> None:
    found = {
        " ".join(c.argv)
        for rel in living_docs()
        for c in command_lines(facts(rel), "autopack", _services())
    }
    assert {"runs new --project demo --family publish", "db check", "docs drift"} <= found


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        (["runs", "frobnicate"], "No such command 'frobnicate'"),
        (["runs", "new", "--project", "demo"], "Missing option '--family'"),
        (["runs", "list", "--limit", "many"], "Invalid value for '--limit'"),
        (["serve", "--bogus"], "No such option: --bogus"),
        (["nothing"], "No such command 'nothing'"),
    ],
)
def test_wrong_command_lines_are_refused(argv: list[str], reason: str) -> None:
    error = click_parse_error(CLI, argv, "autopack")
    assert error is not None
    assert reason in error


@pytest.mark.parametrize(
    "argv", [["--version"], ["--help"], ["runs"], ["runs", "show", "RUN_ID", "--json"]]
)
def test_eager_options_and_bare_groups_are_fine(argv: list[str]) -> None:
    assert click_parse_error(CLI, argv, "autopack") is None


def test_extraction_finds_invocations_in_command_position_only() -> None:
    text = """Run `autopack runs list` or `autopack` or `autopack runs ...`.

```bash
$ AUTOPACK_WORKSPACE=/tmp/w autopack runs new --project a \\
    --family b
docker compose exec backend autopack db check
sh -c "autopack db upgrade && exec autopack serve"
pg_isready -U autopack -d autopack  # not the CLI
.venv/bin/autopack --version
```

```text
autopack 0.1.0
```
"""
    found = [
        (c.line, c.argv)
        for c in command_lines(parse_markdown(text, inline_code=True), "autopack", ["backend"])
    ]
    assert found == [
        (4, ("runs", "new", "--project", "a", "--family", "b")),
        (6, ("db", "check")),
        (7, ("db", "upgrade")),
        (7, ("serve",)),
        (9, ("--version",)),
        (1, ("runs", "list")),
        (1, ()),
        (1, ("runs",)),
    ]


def test_readme_exit_codes_are_the_cli_exit_codes() -> None:
    from autopack.cli._common import EXIT_MEANINGS

    readme = read("README.md")
    section = readme.split("\n### Exit codes\n", 1)[1].split("\n#", 1)[0]
    listed = [line for line in section.splitlines() if line.startswith("- `")]
    assert listed == [f"- `{code}` {meaning}" for code, meaning in EXIT_MEANINGS]
