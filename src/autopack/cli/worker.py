"""`autopack worker`: execute approved actions; many may run against one database."""

from __future__ import annotations

import os
import socket
from typing import Annotated

import typer

from autopack.cli._common import err, out, runtime
from autopack.db.schema import ensure_at_head
from autopack.services.executor import Executor, worker_loop
from autopack.services.ledger import ActionRecord
from autopack.services.redaction_logging import LiveRedactorSource, install_log_redaction


def _print_batch(done: list[ActionRecord]) -> None:
    for record in done:
        out(f"{record.key}: {record.status}")


def worker(
    once: Annotated[bool, typer.Option("--once", help="Run what is claimable, then exit.")] = False,
    poll_seconds: Annotated[
        float, typer.Option(min=0.05, max=3600, help="Seconds between polls.")
    ] = 2.0,
    lease_seconds: Annotated[
        float, typer.Option(min=1, max=86400, help="Lease per claim (longer than any request).")
    ] = 60.0,
    reconcile: Annotated[
        bool,
        typer.Option(
            "--reconcile",
            help="Also reconcile unknown actions (provider lookup) before each pass.",
        ),
    ] = False,
) -> None:
    """Claim approved actions, dispatch them through their provider, record the outcome."""
    name = f"{socket.gethostname()[:24]}-{os.getpid()}"
    with runtime() as rt:
        # Like `serve`: refuse a schema behind head before claiming anything.
        ensure_at_head(rt.engine)
        executor = Executor(rt, worker=name, lease_seconds=lease_seconds)
        log_redaction = install_log_redaction(LiveRedactorSource(rt.log_redactor))
        if not once:
            err(f"autopack worker {name}: polling every {poll_seconds}s (Ctrl-C stops)")
        try:
            total = worker_loop(
                executor,
                once=once,
                poll_seconds=poll_seconds,
                reconcile=reconcile,
                on_batch=_print_batch,
            )
        finally:
            executor.registry.close()
            log_redaction.uninstall()
    if once:
        out(f"done: {total} action(s) executed")
