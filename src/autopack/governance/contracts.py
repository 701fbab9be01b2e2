"""Readers for the documents that contract tests compare with the code.

Each reader turns one documented fact into data: endpoints from the API
contract, settings from the config guide, variables from the env template,
command lines from any living doc, capability rows from the gap analysis.
The comparison itself lives in the tests, which can import the app and the CLI
(tests/docs/test_cli_contract.py parses each command line with the real CLI).
"""

from __future__ import annotations

import ast
import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from autopack.governance.markdown import MarkdownFacts, parse_markdown

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
_ENDPOINT = re.compile(rf"^({'|'.join(HTTP_METHODS)}) (/\S*)$")
_BACKTICKED = re.compile(r"`([^`]+)`")
_STATUS = re.compile(r"`([1-5]\d\d)`")
# "(code `x`)" or "(codes `x`, `y` and `z`)" inside one status's text.
_CODE_LIST = re.compile(r"\bcodes?\s+((?:`[a-z0-9_]+`(?:,\s*|\s+or\s+|\s+and\s+)?)+)")
_CODE = re.compile(r"`([a-z0-9_]+)`")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
SHELL_LANGUAGES = frozenset(
    {"", "bash", "sh", "shell", "zsh", "console", "powershell", "pwsh", "ps1", "cmd", "bat"}
)
_WRAPPERS = frozenset({"exec", "env", "sudo", "time", "nohup", "command"})
_SEPARATORS = frozenset({";", "&&", "||", "|", "&", "(", ")", ";;"})


@dataclass(frozen=True, slots=True)
class DocumentedEndpoint:
    method: str
    path: str
    line: int
    auth: str | None
    statuses: tuple[int, ...]
    # Error codes the Responses bullet names, by the status they are listed under.
    codes: Mapping[int, frozenset[str]] = field(default_factory=dict)


def _bullet(lines: Sequence[str], name: str) -> str | None:
    """The text of the ``- Name: ...`` bullet, continuation lines included."""
    prefix = f"- {name}:"
    for index, line in enumerate(lines):
        if not line.strip().startswith(prefix):
            continue
        parts = [line.strip()[len(prefix) :].strip()]
        for more in lines[index + 1 :]:
            if not more.strip() or not more[:1].isspace() or more.strip().startswith("- "):
                break
            parts.append(more.strip())
        return " ".join(parts)
    return None


def codes_by_status(responses: str) -> dict[int, frozenset[str]]:
    """The error codes named after each status code of a Responses bullet."""
    parts = _STATUS.split(responses)  # [before, status, its text, status, its text, ...]
    found: dict[int, set[str]] = {}
    for status, text in zip(parts[1::2], parts[2::2], strict=True):
        names = found.setdefault(int(status), set())
        for listed in _CODE_LIST.finditer(text):
            names.update(_CODE.findall(listed.group(1)))
    return {status: frozenset(names) for status, names in found.items()}


def documented_endpoints(text: str) -> list[DocumentedEndpoint]:
    """Every ``### METHOD /path`` section of the API contract, in document order."""
    facts = parse_markdown(text)
    lines = text.splitlines()
    heads = [h for h in facts.headings if h.level <= 3]
    endpoints: list[DocumentedEndpoint] = []
    for index, heading in enumerate(heads):
        match = _ENDPOINT.match(heading.text) if heading.level == 3 else None
        if match is None:
            continue
        stop = heads[index + 1].line - 1 if index + 1 < len(heads) else len(lines)
        body = lines[heading.line : stop]
        auth = _bullet(body, "Auth")
        responses = _bullet(body, "Responses") or ""
        endpoints.append(
            DocumentedEndpoint(
                match.group(1),
                match.group(2),
                heading.line,
                auth.strip("`") if auth else None,
                tuple(int(code) for code in _STATUS.findall(responses)),
                codes_by_status(responses),
            )
        )
    return endpoints


@dataclass(frozen=True, slots=True)
class DocumentedErrorCode:
    code: str
    line: int
    category: str
    http: str
    exit: str
    meaning: str


def documented_error_codes(
    text: str, section: str = "Error codes"
) -> dict[str, DocumentedErrorCode]:
    """Rows ``| `code` | category | HTTP | exit | meaning |`` of the table under
    ``## <section>``."""
    facts = parse_markdown(text)
    lines = text.splitlines()
    heads = list(facts.headings)
    found: dict[str, DocumentedErrorCode] = {}
    for index, heading in enumerate(heads):
        if heading.level != 2 or heading.text != section:
            continue
        stop = heads[index + 1].line - 1 if index + 1 < len(heads) else len(lines)
        for number in range(heading.line, stop):
            cells = [cell.strip() for cell in lines[number].strip().strip("|").split("|")]
            ticked = _CODE.fullmatch(cells[0]) if len(cells) == 5 else None
            if ticked is not None:
                found[ticked.group(1)] = DocumentedErrorCode(
                    ticked.group(1), number + 1, *cells[1:]
                )
    return found


@dataclass(frozen=True, slots=True)
class DocumentedSetting:
    name: str
    line: int
    default: str | None


def documented_settings(text: str, section: str = "Settings") -> dict[str, DocumentedSetting]:
    """Level-3 headings under ``## <section>`` with their ``- Default: `...` `` line."""
    facts = parse_markdown(text)
    lines = text.splitlines()
    found: dict[str, DocumentedSetting] = {}
    inside = False
    heads = list(facts.headings)
    for index, heading in enumerate(heads):
        if heading.level <= 2:
            inside = heading.level == 2 and heading.text == section
            continue
        if not inside or heading.level != 3:
            continue
        stop = heads[index + 1].line - 1 if index + 1 < len(heads) else len(lines)
        default = _bullet(lines[heading.line : stop], "Default")
        value = None
        if default is not None:
            ticked = _BACKTICKED.search(default)
            value = ticked.group(1) if ticked else default
        found[heading.text] = DocumentedSetting(heading.text, heading.line, value)
    return found


def env_template_vars(text: str) -> dict[str, str]:
    """``NAME=value`` lines of an env file, in order; comments and blanks skipped."""
    found: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, _, value = line.partition("=")
        found[name.strip()] = value.strip()
    return found


@dataclass(frozen=True, slots=True)
class CommandLine:
    line: int
    argv: tuple[str, ...]  # arguments after the program name
    text: str


def shell_tokens(line: str) -> list[str]:
    """Shell words of one command line; separators (&&, ;, |) are tokens of their own."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|()<>")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    try:
        return list(lexer)
    except ValueError:  # unbalanced quotes: not a command line we can read
        return []


def _is_program(token: str, program: str) -> bool:
    base = token.replace("\\", "/").rsplit("/", 1)[-1]
    return base in (program, f"{program}.exe")


def _invocations(
    tokens: list[str], program: str, services: frozenset[str]
) -> Iterable[tuple[str, ...]]:
    at_command = True
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token in _SEPARATORS or set(token) <= set(";&|()<>"):
            at_command = True
            i += 1
            continue
        if " " in token or "\t" in token:  # a quoted script, e.g. sh -c "a && b"
            yield from _invocations(shell_tokens(token), program, services)
        if at_command and (_ASSIGNMENT.match(token) or token in _WRAPPERS):
            i += 1
            continue
        if at_command and _is_program(token, program):
            j = i + 1
            while (
                j < len(tokens)
                and tokens[j] not in _SEPARATORS
                and not set(tokens[j]) <= set(";&|()<>")
            ):
                j += 1
            argv = list(tokens[i + 1 : j])
            # "autopack actions ..." names the group in prose; the dots are not an argument.
            while argv and argv[-1] == "...":
                argv.pop()
            yield tuple(argv)
            i = j
            continue
        # `docker compose exec|run [options] SERVICE <command>`: the command is a command.
        at_command = token in services and i >= 1 and tokens[i - 1] not in ("-f", "--file")
        at_command = at_command and "compose" in tokens[:i]
        i += 1


def shell_lines(facts: MarkdownFacts) -> list[tuple[int, str]]:
    """(line, command) for each command in shell code blocks; prompts and ``\\`` joins undone."""
    found: list[tuple[int, str]] = []
    for block in facts.code_blocks:
        if block.language not in SHELL_LANGUAGES:
            continue
        pending = ""
        first = block.content_start
        for offset, raw in enumerate(block.content.splitlines()):
            line = raw.strip()
            # console blocks mix commands (with a prompt) and their output
            if block.language == "console" and not line.startswith(("$ ", "> ")) and not pending:
                continue
            if line.startswith(("$ ", "> ")) and not pending:
                line = line[2:]
            if not pending:
                first = block.content_start + offset
            if line.endswith("\\"):
                pending += line[:-1] + " "
                continue
            text = (pending + line).strip()
            pending = ""
            if text and not text.startswith("#"):
                found.append((first, text))
    return found


def command_lines(
    facts: MarkdownFacts, program: str, services: Iterable[str] = ()
) -> list[CommandLine]:
    """Invocations of ``program`` in shell code blocks and in inline code spans."""
    known = frozenset(services)
    found: list[CommandLine] = []
    for line, text in shell_lines(facts):
        for argv in _invocations(shell_tokens(text), program, known):
            found.append(CommandLine(line, argv, text))
    for span in facts.inline_code:
        for argv in _invocations(shell_tokens(span.content), program, known):
            found.append(CommandLine(span.line, argv, span.content))
    return found


@dataclass(frozen=True, slots=True)
class GapItem:
    id: str
    capability: str
    status: str
    evidence: tuple[str, ...]
    line: int


GAP_STATUSES = ("implemented", "partial", "planned")


def gap_items(text: str) -> list[GapItem]:
    """Rows ``| GAP-NNN | capability | source | status | evidence |`` of the gap analysis."""
    items: list[GapItem] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        cells = [c.strip() for c in raw.strip().strip("|").split("|")]
        if len(cells) < 5 or re.fullmatch(r"GAP-\d{3}", cells[0]) is None:
            continue
        evidence = tuple(_BACKTICKED.findall(cells[4]))
        items.append(GapItem(cells[0], cells[1], cells[3].strip("*` ").lower(), evidence, number))
    return items


def missing_test_node(root: Path, node: str) -> str | None:
    """None if ``tests/x.py::Class::test`` (or a plain file) exists, else what is missing."""
    file_part, *names = node.split("::")
    path = root / file_part
    if not file_part.startswith("tests/") or not file_part.endswith(".py"):
        return f"{node}: evidence must be a test file under tests/"
    if not path.is_file():
        return f"{node}: no file {file_part}"
    scope: list[ast.stmt] = ast.parse(path.read_text(encoding="utf-8")).body
    for name in names:
        bare = name.split("[", 1)[0]
        match = next(
            (
                stmt
                for stmt in scope
                if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
                and stmt.name == bare
            ),
            None,
        )
        if match is None:
            return f"{node}: {file_part} has no {bare}"
        scope = match.body if isinstance(match, ast.ClassDef) else []
    return None
