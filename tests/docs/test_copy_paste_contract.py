"""Shell blocks in README.md and the deployment guide name files, services, ports and
endpoints that exist; the README quickstart is exactly two commands."""

from __future__ import annotations

import itertools
import re
import subprocess
import sys

import pytest
from docs_support import REPO, facts, read, registry

from autopack.governance.contracts import documented_endpoints, shell_lines, shell_tokens
from autopack.governance.markdown import MarkdownFacts, parse_markdown
from autopack.governance.repo import directories_of, list_repo_files

DOCS = ["README.md", "docs/DOCKER_DEPLOYMENT_GUIDE.md"]
QUICKSTART = ["python3 scripts/bootstrap.py serve", "python3 scripts/bootstrap.py test"]
_FILE_SUFFIX = re.compile(r"\.(?:py|ya?ml|txt|md|json|toml|example|lock|cfg|ini|sh)$")
_LOOPBACK = re.compile(r"(?:127\.0\.0\.1|localhost):(\d+)(/[^\s\"']*)?")
# Compose options that take a value (the next token is not a service).
_VALUED = {
    "-e",
    "--env",
    "-u",
    "--user",
    "-w",
    "--workdir",
    "--entrypoint",
    "--name",
    "--tail",
    "-p",
    "-v",
}
_SERVICE_COMMANDS = {
    "exec",
    "run",
    "logs",
    "restart",
    "stop",
    "start",
    "up",
    "ps",
    "build",
    "pull",
    "rm",
    "kill",
}


def _is_path(token: str) -> bool:
    if not token or token[0] in "-$/" or any(c in token for c in ":=${}*<>"):
        return False
    return (
        "/" in token
        or "\\" in token
        or bool(_FILE_SUFFIX.search(token))
        or (token.startswith(".") and len(token) > 1 and token[1].isalpha())
    )


def _services_named(tokens: list[str]) -> list[str]:
    """Service names in a `docker compose <command> ...` line."""
    if tokens[:2] != ["docker", "compose"] or len(tokens) < 3 or tokens[2] not in _SERVICE_COMMANDS:
        return []
    names: list[str] = []
    skip = False
    for token in tokens[3:]:
        if skip:
            skip = False
        elif token.startswith("-"):
            skip = token in _VALUED
        else:
            names.append(token)
            if tokens[2] in ("exec", "run"):
                break  # the rest is the command run inside the service
    return names


def _endpoint_patterns() -> list[re.Pattern[str]]:
    paths = {e.path for e in documented_endpoints(read("docs/CANONICAL_API_CONTRACT.md"))}
    return [re.compile(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(p)) + "$") for p in paths]


def problems_in(rel: str, doc: MarkdownFacts) -> list[str]:
    files = list_repo_files(REPO)
    known = set(files) | directories_of(files) | {"."}
    compose = registry().compose
    assert compose is not None
    ports = set(registry().ports.values())
    endpoints = _endpoint_patterns()
    created: set[str] = set()
    problems: list[str] = []
    for line, text in shell_lines(doc):
        tokens = shell_tokens(text)
        where = f"{rel}:{line}: {text}"
        # Later commands (and this one) may use what this one makes.
        if tokens[:1] == ["cp"] and len(tokens) == 3:
            created.add(tokens[2])
        created.update(after for op, after in itertools.pairwise(tokens) if op in (">", ">>"))
        for token in tokens:
            path = token.replace("\\", "/").removeprefix("./").rstrip("/")
            if _is_path(token) and path not in known and path not in created:
                problems.append(f"{where}: no file {path}")
        problems += [
            f"{where}: no compose service {name!r}"
            for name in _services_named(tokens)
            if name not in compose.services
        ]
        for port, url_path in _LOOPBACK.findall(text):
            if int(port) not in ports:
                problems.append(f"{where}: port {port} is not in the registry's ports")
            if url_path and not any(p.match(url_path) for p in endpoints):
                problems.append(f"{where}: {url_path} is not a documented endpoint")
    return problems


@pytest.mark.parametrize("rel", DOCS)
def test_shell_blocks_refer_to_things_that_exist(rel: str) -> None:
    doc = facts(rel)
    assert shell_lines(doc), f"{rel} has no shell commands"
    problems = problems_in(rel, doc)
    assert not problems, "\n".join(problems)


def _section(text: str, title: str) -> str:
    return text.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_readme_quickstart_is_exactly_two_commands() -> None:
    section = _section(read("README.md"), "Quickstart")
    commands = [text for _, text in shell_lines(parse_markdown(section))]
    assert commands == QUICKSTART


def test_bootstrap_offers_both_quickstart_commands() -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "bootstrap.py"), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "{serve,test}" in proc.stdout


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("cat missing/file.txt", "no file missing/file.txt"),
        ("docker compose exec proxy autopack db check", "no compose service 'proxy'"),
        ("docker compose logs -f --tail 10 web", "no compose service 'web'"),
        ("curl http://127.0.0.1:9999/health", "port 9999"),
        ("curl http://127.0.0.1:8000/api/nothing", "/api/nothing is not a documented endpoint"),
    ],
)
def test_the_checks_catch_wrong_commands(line: str, problem: str) -> None:
    doc = parse_markdown(f"# Guide\n\n```bash\ncp .env.example .env\ncat .env\n{line}\n```\n")
    problems = problems_in("GUIDE.md", doc)
    assert len(problems) == 1
    assert problem in problems[0]
