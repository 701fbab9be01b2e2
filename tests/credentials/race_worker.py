"""One process of the rotation race: N threads share one CredentialService.

Reads commands on stdin, one per line: ``round <n>`` runs every thread once
against the same credential with the clock moved ``n * 2`` hours ahead (so the
token stored by the previous round is expired), then prints one JSON line;
``quit`` exits. Arguments: database URL, workspace, fake OAuth URL, secret key,
threads, provider, account, mode (``shared`` or ``separate``).
"""

from __future__ import annotations

import json
import sys
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from autopack.db.engine import create_db_engine, create_session_factory
from autopack.services.context import Runtime, utc_now
from autopack.services.credentials import CredentialService, RefreshPolicy, stored_secrets
from autopack.settings import Settings


def main() -> None:
    url, workspace, fake_url, secret, threads_text, provider, account, mode = sys.argv[1:9]
    threads = int(threads_text)
    settings = Settings(
        _env_file=None,
        workspace=Path(workspace),
        database_url=url,
        secret_key=secret,
        oauth_server_url=fake_url,
    )
    engine = create_db_engine(url, pool_size=threads, max_overflow=4)
    offset = [timedelta(0)]

    def clock() -> datetime:
        return utc_now() + offset[0]

    runtime = Runtime(
        settings,
        engine,
        create_session_factory(engine),
        clock=clock,
        stored_secrets=stored_secrets,
    )
    policy = RefreshPolicy(
        max_attempts=3,
        initial_backoff=0.01,
        max_backoff=0.05,
        request_timeout=5.0,
        wait_timeout=30.0,
        poll_interval=0.01,
    )
    # shared: one service per process (threads coalesce in-process, then the
    # processes race in the database); separate: one service per thread, so all
    # callers race in the database.
    count = 1 if mode == "shared" else threads
    transport = httpx.HTTPTransport()  # one TLS context per process, like one pool
    services = [
        CredentialService(runtime, policy=policy, transport=transport) for _ in range(count)
    ]
    for service in services:
        # Warm up outside the measured rounds: connections, key ring, HTTP client.
        service.health()
        service.endpoint.client()
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    for line in sys.stdin:
        command = line.split()
        if not command or command[0] == "quit":
            break
        number = int(command[1])
        offset[0] = timedelta(hours=2 * number)
        barrier = threading.Barrier(threads)
        results: list[Any] = [None] * threads

        def call(index: int, barrier: threading.Barrier, results: list[Any]) -> None:
            service = services[index % len(services)]
            barrier.wait()
            try:
                results[index] = ("ok", service.access_token(provider, account))
            except Exception as exc:  # noqa: BLE001 - reported to the parent
                results[index] = ("error", f"{type(exc).__name__}: {getattr(exc, 'code', '')}")

        workers = [
            threading.Thread(target=call, args=(i, barrier, results)) for i in range(threads)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        tokens = sorted({r[1] for r in results if r[0] == "ok"})
        errors = [r[1] for r in results if r[0] == "error"]
        ok = sum(1 for r in results if r[0] == "ok")
        line_out = {"round": number, "ok": ok, "tokens": tokens, "errors": errors}
        sys.stdout.write(json.dumps(line_out) + "\n")
        sys.stdout.flush()
    for service in services:
        service.close()
    transport.close()
    engine.dispose()


if __name__ == "__main__":
    main()
