"""Start and stop a throw-away PostgreSQL cluster on a free loopback port.

Standard library only: the bootstrap imports it before any venv exists, and the
benchmarks import it to start PostgreSQL "the way the test command does".

On Linux as root, initdb refuses to run, so the cluster is created and started
as the `postgres` user through `runuser`. With CI=true and no initdb on the
machine, PostgreSQL is installed from apt first.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

USER = "postgres"
DB_NAME = "autopack"


def _log(message: str) -> None:
    print(f"[throwaway-pg] {message}", file=sys.stderr, flush=True)


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def find_pg_bin() -> Path | None:
    """Directory holding initdb and pg_ctl, or None."""
    # Debian keeps the server binaries off PATH, in one directory per version.
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    found = shutil.which("initdb")
    if found:
        candidates.append(Path(found).resolve().parent)
    suffix = ".exe" if os.name == "nt" else ""
    for directory in candidates:
        if all(
            (directory / f"{tool}{suffix}").exists() for tool in ("initdb", "pg_ctl", "createdb")
        ):
            return directory
    return None


def install_with_apt() -> None:
    _log("PostgreSQL not found: installing it with apt-get")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env, stdout=subprocess.DEVNULL)
    subprocess.run(
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", "postgresql"],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Cluster:
    bin_dir: Path
    data_dir: Path
    port: int
    as_postgres_user: bool
    # Tests trade crash safety for speed (fsync=off); a benchmark of durable
    # commits needs the server's own durable defaults.
    durable: bool = False

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://{USER}@127.0.0.1:{self.port}/{DB_NAME}"

    def _cmd(self, tool: str, *args: str) -> list[str]:
        cmd = [str(self.bin_dir / tool), *args]
        return ["runuser", "-u", USER, "--", *cmd] if self.as_postgres_user else cmd

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.as_postgres_user:
            shutil.chown(self.data_dir.parent, USER)
            shutil.chown(self.data_dir, USER)
        subprocess.run(
            self._cmd(
                "initdb",
                "-D",
                str(self.data_dir),
                "-U",
                USER,
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-sync",
                "--locale=C",
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        # Unix sockets go in the data dir: /var/run/postgresql may not exist.
        opts = f"-p {self.port} -c listen_addresses=127.0.0.1 -c max_connections=200"
        if not self.durable:
            opts += " -c fsync=off -c full_page_writes=off"
        if os.name != "nt":
            opts += f" -k {self.data_dir}"
        log_file = self.data_dir / "server.log"
        subprocess.run(
            self._cmd(
                "pg_ctl",
                "-D",
                str(self.data_dir),
                "-o",
                opts,
                "-l",
                str(log_file),
                "-w",
                "-t",
                "60",
                "start",
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        self._wait_ready()
        subprocess.run(
            self._cmd("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", USER, DB_NAME),
            check=True,
        )
        _log(f"PostgreSQL ready on 127.0.0.1:{self.port}")

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), 1),
            ):
                return
            time.sleep(0.1)
        raise RuntimeError("PostgreSQL did not start listening within 60 s")

    def stop(self) -> None:
        subprocess.run(
            self._cmd("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop"),
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )


@contextlib.contextmanager
def throwaway_postgres(*, install: bool = False, durable: bool = False) -> Iterator[str | None]:
    """Yield a PostgreSQL URL, or None when this platform cannot start one.

    ``durable`` keeps fsync and full-page writes on (the server defaults); without
    it the cluster skips them, which is fine for tests and wrong for measuring
    what a durable commit costs."""
    bin_dir = find_pg_bin()
    if bin_dir is None and install and sys.platform.startswith("linux") and _is_root():
        install_with_apt()
        bin_dir = find_pg_bin()
    if bin_dir is None:
        _log("no PostgreSQL binaries (initdb, pg_ctl) found: PostgreSQL tests will be skipped")
        yield None
        return
    as_postgres = _is_root()
    base = Path(tempfile.mkdtemp(prefix="autopack-pg-"))
    cluster = Cluster(bin_dir, base / "data", free_port(), as_postgres, durable)
    try:
        cluster.start()
        yield cluster.url
    finally:
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    # Manual use: start a cluster, print its URL, keep it until Ctrl-C.
    with throwaway_postgres(install=os.environ.get("CI") == "true") as url:
        print(url or "unavailable", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while url:
                time.sleep(3600)
