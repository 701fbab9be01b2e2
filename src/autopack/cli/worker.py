"""`autopack worker`: execute approved actions; many may run against one database.

Stopping (SIGTERM, e.g. `docker compose stop`, or Ctrl-C): nothing new is
claimed, and an action in flight finishes and has its outcome recorded; its
request is bounded by the adapter's timeout. A second signal, or the first one
still unfinished after the longest adapter timeout plus a margin, interrupts
the request: the action is recorded ``unknown`` at once (reconciled through the
provider's lookup later), never left ``dispatching`` until its lease runs out.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Annotated, Final

import typer

from autopack.cli._common import err, out, runtime
from autopack.db.schema import ensure_at_head
from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import InvalidInputError
from autopack.services.executor import Executor, worker_loop
from autopack.services.ledger import ActionRecord
from autopack.services.notifications.delivery import notification_duty
from autopack.services.redaction_logging import LiveRedactorSource, install_log_redaction
from autopack.services.trading.sync import TradingSync, TradingSyncDuty

# Time for the outcome's commit after the longest request has timed out.
STOP_MARGIN_SECONDS: Final = 5.0
STOP_SIGNALS: Final = (signal.SIGTERM, signal.SIGINT)


class WorkerInterruptedError(Exception):
    """Raised in the main thread by a second stop signal. An ``Exception``, so a
    dispatch it interrupts is recorded as ``unknown`` (maybe sent) at once."""


def check_lease(lease_seconds: float, executor: Executor) -> None:
    """A lease must outlive any request: otherwise another worker may claim (and send)
    an action whose first request is still in flight."""
    longest = executor.longest_request_seconds()
    if lease_seconds <= longest:
        raise InvalidInputError(
            f"--lease-seconds {lease_seconds:g} is not longer than the longest adapter "
            f"request timeout ({longest:g} s): use more than {longest:g}",
            code=ErrorCode.LEASE_TOO_SHORT,
        )


@contextmanager
def stop_on_signals(stop: threading.Event, grace_seconds: float) -> Iterator[None]:
    """First SIGTERM/SIGINT: set ``stop`` (finish the action in flight); a second one,
    or the grace running out, raises ``WorkerInterruptedError`` in the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be installed from the main thread
        return
    watchdog: list[threading.Timer] = []

    def handle(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            raise WorkerInterruptedError(f"stopped by signal {signum}")
        stop.set()
        err(
            f"autopack worker: stopping after the action in flight (at most "
            f"{grace_seconds:g} s; signal again to stop now)"
        )
        # Bounded even if a request ignores its timeout: interrupt it after the grace.
        timer = threading.Timer(grace_seconds, os.kill, (os.getpid(), signal.SIGTERM))
        timer.daemon = True
        timer.start()
        watchdog.append(timer)

    previous = {sig: signal.signal(sig, handle) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for timer in watchdog:
            timer.cancel()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _print_batch(done: list[ActionRecord]) -> None:
    for record in done:
        out(f"{record.key}: {record.status}")


def worker(
    once: Annotated[bool, typer.Option("--once", help="Run what is claimable, then exit.")] = False,
    poll_seconds: Annotated[
        float, typer.Option(min=0.05, max=3600, help="Seconds between polls.")
    ] = 2.0,
    lease_seconds: Annotated[
        float,
        typer.Option(
            min=1, max=86400, help="Lease per claim; must be longer than any adapter timeout."
        ),
    ] = 60.0,
    reconcile: Annotated[
        bool,
        typer.Option(
            "--reconcile",
            help="Also reconcile unknown actions (provider lookup) before each pass.",
        ),
    ] = False,
) -> None:
    """Claim approved actions, dispatch them through their provider, record the outcome.

    SIGTERM or Ctrl-C stops it after the action in flight; a second one stops it now
    (that action is recorded unknown)."""
    name = f"{socket.gethostname()[:24]}-{os.getpid()}"
    with runtime() as rt:
        # Like `serve`: refuse a schema behind head before claiming anything.
        ensure_at_head(rt.engine)
        executor = Executor(rt, worker=name, lease_seconds=lease_seconds)
        check_lease(lease_seconds, executor)
        grace = executor.longest_request_seconds() + STOP_MARGIN_SECONDS
        # Notifications ride along each pass when a webhook is configured.
        notify = notification_duty(rt, owner=name)
        if notify is not None:
            # A stop also lets the delivery in flight finish and be recorded.
            grace = max(grace, notify.deliverer.lease_seconds)
        # Trading accounts are read from the broker on their own interval.
        trading = TradingSyncDuty(TradingSync(rt, executor.registry))
        duties = (trading,) if notify is None else (notify, trading)
        log_redaction = install_log_redaction(LiveRedactorSource(rt.log_redactor))
        stop = threading.Event()
        try:
            with stop_on_signals(stop, grace):
                if not once:
                    # Printed once the stop signals are handled: from here a stop is graceful.
                    err(f"autopack worker {name}: polling every {poll_seconds}s (Ctrl-C stops)")
                total = worker_loop(
                    executor,
                    once=once,
                    poll_seconds=poll_seconds,
                    stop=stop,
                    reconcile=reconcile,
                    on_batch=_print_batch,
                    duties=duties,
                )
        except WorkerInterruptedError as exc:
            err(f"autopack worker {name}: {exc}")
            raise typer.Exit(128 + signal.SIGTERM) from None
        finally:
            executor.registry.close()
            if notify is not None:
                notify.close()
            log_redaction.uninstall()
    if once:
        out(f"done: {total} action(s) executed")
    elif stop.is_set():
        err(f"autopack worker {name}: stopped")
