"""Set everything up from a fresh clone, then serve or test. Standard library only.

    python scripts/bootstrap.py serve [--host H] [--port P]
        .venv + requirements.lock.txt (hash-checked) + the package, upgrade the
        embedded SQLite database, then run the main job on the embedded default:
        the sandbox provider (127.0.0.1:8765, or the port of AUTOPACK_SANDBOX_URL),
        a worker that executes approved actions and reconciles unknown ones, and
        the API (default 127.0.0.1:8000) in the foreground. Ctrl-C stops all three.
        Both ports are checked before anything starts: a busy one exits 3 with a
        line naming the port and the setting that moves it. When Node.js and npm
        are installed, the operator console is built first (npm ci, npm run
        build) and the API serves it at /; without them it says how to get them
        and runs the rest.

    python scripts/bootstrap.py test [PYTEST_ARGS...]
        .venv + requirements-dev.lock.txt, a throw-away PostgreSQL where the
        platform allows (installed from apt under CI=true on Linux), then ruff,
        mypy, import-linter, alembic check on SQLite and PostgreSQL, the console
        (npm ci, npm test, npm run build; under CI=true Node.js, npm and
        Chromium are installed from apt when missing), and pytest. Exits
        non-zero if any step fails, including pytest collecting no test.

Works on Linux, macOS and Windows with only Python 3.11+.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
STAMP = VENV / ".autopack-installed"
RUNTIME_LOCK = "requirements.lock.txt"
DEV_LOCK = "requirements-dev.lock.txt"
IS_CI = os.environ.get("CI") == "true"
# Mirrors autopack.settings.DEFAULT_SANDBOX_PORT (this script runs before the
# package is installed); tests/test_bootstrap.py keeps the two equal.
DEFAULT_SANDBOX_PORT = 8765

sys.path.insert(0, str(ROOT / "scripts"))
from throwaway_pg import throwaway_postgres  # noqa: E402 - needs the scripts dir on sys.path


def say(message: str) -> None:
    print(f"[bootstrap] {message}", flush=True)


def venv_bin(name: str) -> Path:
    if os.name == "nt":
        return VENV / "Scripts" / f"{name}.exe"
    return VENV / "bin" / name


def run(
    cmd: list[str | Path], *, cwd: Path | str | None = None, env: dict[str, str] | None = None
) -> int:
    return subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, check=False).returncode


def _fingerprint(lock: str) -> str:
    digest = hashlib.sha256()
    for name in (lock, "pyproject.toml"):
        digest.update((ROOT / name).read_bytes())
    return f"{lock} {digest.hexdigest()}"


def ensure_venv(lock: str) -> None:
    """Create .venv and install ``lock`` (hash-checked) plus the package, once per lock content."""
    wanted = _fingerprint(lock)
    installed = STAMP.read_text(encoding="utf-8").splitlines() if STAMP.exists() else []
    # The dev lock is a superset of the runtime lock, so it satisfies `serve`.
    if wanted in installed or (lock == RUNTIME_LOCK and _fingerprint(DEV_LOCK) in installed):
        say(f".venv is up to date with {lock}")
        return
    if not venv_bin("python").exists():
        say("creating .venv")
        venv.EnvBuilder(with_pip=True, clear=False).create(VENV)
    python = venv_bin("python")
    say(f"installing {lock} (hash-checked)")
    steps: list[list[str | Path]] = [
        [
            python,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--require-hashes",
            "--no-deps",
            "-r",
            ROOT / lock,
        ],
        [
            python,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            "--no-build-isolation",
            "-e",
            ROOT,
        ],
    ]
    for step in steps:
        if run(step, cwd=ROOT) != 0:
            raise SystemExit(f"[bootstrap] install failed: {' '.join(map(str, step))}")
    STAMP.write_text(wanted + "\n", encoding="utf-8")


NODE_HINT = (
    "the operator console needs Node.js 18+ and npm (https://nodejs.org, or "
    "`apt-get install nodejs npm` on Debian/Ubuntu); then rerun to build it"
)
NPM_STAMP = ROOT / "node_modules" / ".autopack-lock"
CHROMIUM = Path("/usr/bin/chromium")


def npm() -> str | None:
    """The npm executable, or None when Node.js is not installed."""
    return shutil.which("npm") if shutil.which("node") else None


def apt_install(*packages: str) -> bool:
    say(f"installing {' '.join(packages)} with apt-get")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if run(["apt-get", "update", "-q"], env=env) != 0:
        return False
    return run(["apt-get", "install", "-y", "-q", *packages], env=env) == 0


def ensure_npm_packages(tool: str) -> int:
    """`npm ci` once per package-lock.json content (it deletes node_modules first)."""
    wanted = hashlib.sha256((ROOT / "package-lock.json").read_bytes()).hexdigest()
    if NPM_STAMP.exists() and NPM_STAMP.read_text(encoding="utf-8").strip() == wanted:
        say("node_modules is up to date with package-lock.json")
        return 0
    say("npm ci")
    code = run([tool, "ci", "--no-audit", "--no-fund"], cwd=ROOT)
    if code == 0:
        NPM_STAMP.write_text(wanted + "\n", encoding="utf-8")
    return code


def build_console() -> None:
    """Build the console the API serves at /; without Node.js, say how to get it."""
    tool = npm()
    if tool is None:
        say(NODE_HINT)
        say("starting without the console: the API, the worker and the sandbox run")
        return
    if ensure_npm_packages(tool) != 0 or run([tool, "run", "build"], cwd=ROOT) != 0:
        say("the console did not build (see above): starting without it")
        return
    say("console built: it is served at / by the API")


def console_checks(failures: list[str]) -> None:
    """npm ci, Vitest and the production build; the browser tests need both and Chromium.

    Under CI=true a missing Node.js or Chromium is installed from apt, and still
    missing is a failure (the browser tests would otherwise not run)."""
    if IS_CI and npm() is None and not apt_install("nodejs", "npm"):
        failures.append("nodejs/npm (apt-get install failed)")
    if IS_CI and not CHROMIUM.exists() and not apt_install("chromium"):
        failures.append("chromium (apt-get install failed)")
    tool = npm()
    if tool is None:
        if IS_CI:
            failures.append("console (CI=true but Node.js/npm are missing)")
        else:
            say(NODE_HINT + " (the browser tests skip without it)")
        return
    say("== console: npm ci, npm test, npm run build")
    if ensure_npm_packages(tool) != 0:
        failures.append("npm ci")
        return
    if run([tool, "test"], cwd=ROOT) != 0:
        failures.append("npm test")
    if run([tool, "run", "build"], cwd=ROOT) != 0:
        failures.append("npm run build")


def sandbox_port(sandbox_url: str) -> int:
    """The port the sandbox adapter will call: that of ``sandbox_url``, else the default."""
    port = urllib.parse.urlsplit(sandbox_url).port if sandbox_url else None
    return port or DEFAULT_SANDBOX_PORT


EXIT_UNAVAILABLE = 3  # autopack's exit code for an unavailable dependency
# Resolved by the installed package, so the environment and a .env file count
# exactly as they will for the processes started afterwards.
_SETTINGS_PROBE = """
import json, sys
from autopack.domain.errors import AutopackError
from autopack.settings import load_settings
try:
    s = load_settings()
except AutopackError as exc:
    print(f"error: {exc.message}", file=sys.stderr)
    sys.exit(exc.exit_code)
print(json.dumps({"host": s.host, "port": s.port, "sandbox_url": s.sandbox_url}))
"""


def effective_settings() -> dict[str, object]:
    proc = subprocess.run(
        [str(venv_bin("python")), "-c", _SETTINGS_PROBE],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(proc.returncode)
    settings: dict[str, object] = json.loads(proc.stdout)
    return settings


def port_in_use(host: str, port: int) -> bool:
    """True when ``host:port`` cannot be bound now (another process listens there)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        if os.name != "nt":
            # As the servers do: a port in TIME_WAIT is free; on Windows this
            # option would let us bind over a live listener, so it stays off.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def busy_ports(listeners: list[tuple[str, str, int, str]]) -> list[str]:
    """One line per (name, host, port, how to change it) that cannot be bound."""
    lines: list[str] = []
    seen: dict[int, str] = {}
    for name, host, port, setting in listeners:
        if port in seen:
            lines.append(
                f"port {port} is wanted by both the {seen[port]} and the {name}: {setting}"
            )
        elif port_in_use(host, port):
            lines.append(f"port {port} ({name}, {host}) is in use: stop what holds it or {setting}")
        seen[port] = name
    return lines


def serve(args: argparse.Namespace) -> int:
    ensure_venv(RUNTIME_LOCK)
    autopack = venv_bin("autopack")
    settings = effective_settings()
    sandbox = sandbox_port(str(settings["sandbox_url"]))
    api_port = args.port or int(str(settings["port"]))
    # Every port before anything starts: a sandbox port owned by something else
    # would receive the approved payloads.
    problems = busy_ports(
        [
            (
                "sandbox",
                urllib.parse.urlsplit(str(settings["sandbox_url"])).hostname or "127.0.0.1",
                sandbox,
                f"set AUTOPACK_SANDBOX_URL to another port (now {settings['sandbox_url']})",
            ),
            (
                "API",
                args.host or str(settings["host"]),
                api_port,
                "set AUTOPACK_PORT to another port (or pass --port)",
            ),
        ]
    )
    for line in problems:
        say(line)
    if problems:
        return EXIT_UNAVAILABLE
    build_console()
    code = run([autopack, "db", "upgrade"])
    if code != 0:
        return code
    api_args: list[str | Path] = []
    if args.host:
        api_args += ["--host", args.host]
    if args.port:
        api_args += ["--port", str(args.port)]
    # A terminated bootstrap must take its children down with it.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    helpers = [
        subprocess.Popen([str(autopack), "sandbox", "serve", "--port", str(sandbox)]),
        subprocess.Popen([str(autopack), "worker", "--reconcile"]),
    ]
    # The console is built beside this script, wherever bootstrap is run from.
    serve_env = dict(os.environ)
    serve_env.setdefault("AUTOPACK_CONSOLE_DIR", str(ROOT / "dist" / "console"))
    try:
        return run([autopack, "serve", *api_args], env=serve_env)
    except KeyboardInterrupt:
        return 130
    finally:
        for proc in helpers:
            proc.terminate()
        for proc in helpers:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


def _alembic_check(env: dict[str, str], url: str | None, label: str) -> int:
    """`alembic check` from the repo root against a freshly upgraded database."""
    with tempfile.TemporaryDirectory(prefix="autopack-alembic-") as workspace:
        step_env = dict(env, AUTOPACK_WORKSPACE=workspace)
        if url:
            step_env["AUTOPACK_DATABASE_URL"] = url
        code = run([venv_bin("autopack"), "db", "upgrade"], env=step_env, cwd=workspace)
        if code == 0:
            code = run([venv_bin("alembic"), "check"], env=step_env, cwd=ROOT)
    say(f"alembic check on {label}: {'ok' if code == 0 else 'FAILED'}")
    return code


def test(pytest_args: list[str]) -> int:
    ensure_venv(DEV_LOCK)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOPACK_")}
    failures: list[str] = []
    started = time.monotonic()
    checks: list[tuple[str, list[str | Path]]] = [
        ("ruff check", [venv_bin("ruff"), "check", "."]),
        ("ruff format", [venv_bin("ruff"), "format", "--check", "."]),
        ("mypy", [venv_bin("mypy")]),
        ("import-linter", [venv_bin("lint-imports")]),
    ]
    for name, cmd in checks:
        say(f"== {name}")
        if run(cmd, cwd=ROOT, env=env) != 0:
            failures.append(name)
    with throwaway_postgres(install=IS_CI) as pg_url:
        if pg_url:
            env["AUTOPACK_TEST_PG_URL"] = pg_url
        elif IS_CI:
            failures.append("postgresql (CI=true but no cluster could be started)")
        say("== alembic check")
        if _alembic_check(env, None, "sqlite") != 0:
            failures.append("alembic check (sqlite)")
        if pg_url and _alembic_check(env, pg_url, "postgresql") != 0:
            failures.append("alembic check (postgresql)")
        console_checks(failures)
        say(f"== pytest (PostgreSQL: {'yes' if pg_url else 'no, those variants skip'})")
        code = run([venv_bin("python"), "-m", "pytest", *pytest_args], cwd=ROOT, env=env)
        if code == 5:
            failures.append("pytest (no tests collected)")
        elif code != 0:
            failures.append(f"pytest (exit {code})")
    say(f"finished in {time.monotonic() - started:.0f} s")
    if failures:
        say("FAILED: " + ", ".join(failures))
        return 1
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve_parser = sub.add_parser("serve", help="set up and start the API on the embedded SQLite")
    serve_parser.add_argument("--host")
    serve_parser.add_argument("--port", type=int)
    sub.add_parser("test", help="set up and run every check and the whole test suite")
    args, rest = parser.parse_known_args()
    if args.command == "serve":
        if rest:
            parser.error(f"unrecognized arguments: {' '.join(rest)}")
        return serve(args)
    return test(rest)


if __name__ == "__main__":
    raise SystemExit(main())
