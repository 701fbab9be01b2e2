"""`autopack policy ...`: watch providers' policy pages; acknowledge their changes.

A publish or list action of a provider under the policy monitor waits while a
watched page has no snapshot, was last checked longer ago than the freshness
window, or changed since the acknowledged snapshot (`autopack policy status`).
"""

from __future__ import annotations

import re
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Annotated, Any, Final

import typer

from autopack.cli._common import AS_OPTION, JSON_OPTION, acting_as, err, out, out_json, runtime
from autopack.domain.error_codes import ErrorCode
from autopack.domain.errors import InvalidInputError, UnavailableError

app = typer.Typer(
    help=(
        "Provider policy monitor: watched terms and policy pages, content-addressed "
        "snapshots, diffs and acknowledgements. Publish and list actions wait until "
        "their provider's policy is fresh and acknowledged."
    )
)
pages_app = typer.Typer(help="The watched policy pages of each provider.")
app.add_typer(pages_app, name="pages")

PROVIDER_OPTION = typer.Option("--provider", help="Only this provider (default: all watched).")
DURATION: Final = re.compile(r"(\d+)([smhd])")
UNIT_SECONDS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MIN_EVERY_SECONDS: Final = 1
MAX_EVERY_SECONDS: Final = 30 * 86400


def parse_every(text: str) -> int:
    """``6h``, ``30m``, ``90s``, ``1d`` -> seconds (1 s to 30 days)."""
    match = DURATION.fullmatch(text.strip().lower())
    seconds = int(match[1]) * UNIT_SECONDS[match[2]] if match else 0
    if not MIN_EVERY_SECONDS <= seconds <= MAX_EVERY_SECONDS:
        raise InvalidInputError(
            f"--every must be a duration like 6h, 30m, 90s or 1d (1 s to 30 days), "
            f"got {text[:40]!r}",
            code=ErrorCode.INVALID_INPUT,
        )
    return seconds


def _short(digest: str | None) -> str:
    return "-" if digest is None else digest[:12]


@pages_app.command("list")
def pages_list(
    provider: Annotated[str | None, PROVIDER_OPTION] = None,
    as_json: bool = JSON_OPTION,
) -> None:
    """The watched pages (each provider's defaults until changed)."""
    from autopack.services.policy_monitor import PolicyMonitor

    with runtime() as rt:
        pages = PolicyMonitor(rt).pages(provider)
    if as_json:
        out_json({"pages": pages})
        return
    for page in pages:
        out(f"{page['provider']}  {page['url']}  (added by {page['added_by']})")


@pages_app.command("add")
def pages_add(
    provider: Annotated[str, typer.Argument(help="Provider under the policy monitor.")],
    url: Annotated[str, typer.Argument(help="Absolute http(s) URL of the page.")],
    actor: Annotated[str | None, AS_OPTION] = None,
) -> None:
    """Watch one more page of a provider (fetch it with `autopack policy fetch`)."""
    from autopack.services.policy_monitor import PolicyMonitor

    with runtime() as rt:
        page = PolicyMonitor(rt).add_page(provider, url, actor=acting_as(actor))
    out(f"watching {page['provider']} {page['url']}")
    if page["current_hash"] is None:
        out(f"fetch it with: autopack policy fetch --provider {page['provider']}")


@pages_app.command("remove")
def pages_remove(
    provider: Annotated[str, typer.Argument(help="Provider under the policy monitor.")],
    url: Annotated[str, typer.Argument(help="The watched page's URL.")],
    actor: Annotated[str | None, AS_OPTION] = None,
) -> None:
    """Stop watching a page (its snapshots and acknowledgements are kept)."""
    from autopack.services.policy_monitor import PolicyMonitor

    with runtime() as rt:
        page = PolicyMonitor(rt).remove_page(provider, url, actor=acting_as(actor))
    out(f"no longer watching {page['provider']} {page['url']}")


def _print_reports(reports: list[dict[str, Any]]) -> None:
    for report in reports:
        line = f"{report['provider']}  {report['url']}  {report['outcome']}"
        if report["outcome"] == "failed":
            line += f": {report['error']}"
        elif report["outcome"] == "changed":
            line += f" {_short(report['previous_hash'])} -> {_short(report['hash'])}"
        else:
            line += f" {_short(report['hash'])}"
        out(line)
    for provider in sorted({r["provider"] for r in reports if r["outcome"] == "changed"}):
        out(f"{provider} changed: read `autopack policy diff {provider}`, then acknowledge it")


def _failed(reports: list[dict[str, Any]]) -> UnavailableError | None:
    failed = [r for r in reports if r["outcome"] == "failed"]
    if not failed:
        return None
    return UnavailableError(
        f"{len(failed)} of {len(reports)} policy page(s) could not be fetched; "
        "their snapshots did not become fresh",
        code=ErrorCode.POLICY_FETCH_FAILED,
    )


@app.command("fetch")
def fetch(
    provider: Annotated[str | None, PROVIDER_OPTION] = None,
    as_json: bool = JSON_OPTION,
) -> None:
    """Fetch the watched pages now; exits 3 if any page failed (it stays as it was)."""
    from autopack.services.policy_monitor import PolicyMonitor

    with runtime() as rt:
        reports = PolicyMonitor(rt).fetch(provider)
    if as_json:
        out_json({"fetched": reports})
    else:
        _print_reports(reports)
    failure = _failed(reports)
    if failure is not None:
        raise failure


@app.command("status")
def status(
    provider: Annotated[str | None, PROVIDER_OPTION] = None,
    as_json: bool = JSON_OPTION,
) -> None:
    """Per provider: each page's snapshot, age and standing (current, stale, missing,
    unacknowledged)."""
    from autopack.services.policy_monitor import PolicyMonitor

    with runtime() as rt:
        found = PolicyMonitor(rt).status(provider)
    if as_json:
        out_json({"providers": found})
        return
    for entry in found:
        out(f"{entry['provider']}: {entry['standing']}")
        for page in entry["pages"]:
            age = page["age_seconds"]
            shown = "never" if age is None else f"{age // 3600}h ago"
            line = (
                f"    {page['standing']:<14} {_short(page['current_hash'])}  "
                f"checked {shown}  {page['url']}"
            )
            if page["last_error"]:
                line += f"  (last fetch failed: {page['last_error']})"
            out(line)


@app.command("diff")
def diff(
    provider: Annotated[str, typer.Argument(help="Provider under the policy monitor.")],
    as_json: bool = JSON_OPTION,
) -> None:
    """The unacknowledged changes of a provider's pages, as unified diffs."""
    from autopack.services.policy_monitor import PolicyMonitor

    with runtime() as rt:
        changes = PolicyMonitor(rt).pending(provider)
    if as_json:
        out_json({"provider": provider, "changes": changes})
        return
    if not changes:
        out(f"{provider}: nothing to acknowledge")
        return
    for change in changes:
        out(change["diff"].rstrip("\n"))
        out(f"acknowledge with: {change['ack_command']}")


@app.command("ack")
def ack(
    provider: Annotated[str, typer.Argument(help="Provider under the policy monitor.")],
    from_hash: Annotated[
        str, typer.Option("--from", help="The acknowledged snapshot hash (64 hex).")
    ],
    to_hash: Annotated[str, typer.Option("--to", help="The new snapshot hash (64 hex).")],
    actor: Annotated[str | None, AS_OPTION] = None,
    as_json: bool = JSON_OPTION,
) -> None:
    """Acknowledge one pending change (old -> new snapshot); a later change needs another."""
    from autopack.services.policy_monitor import PolicyMonitor

    with runtime() as rt:
        done = PolicyMonitor(rt).ack(
            provider, from_hash=from_hash, to_hash=to_hash, actor=acting_as(actor)
        )
    if as_json:
        out_json({"provider": provider, "acknowledged": done})
        return
    for item in done:
        out(
            f"acknowledged {provider} {item['url']}: {_short(item['from_hash'])} -> "
            f"{_short(item['to_hash'])} by {item['by']}"
        )


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@app.command("watch")
def watch(
    every: Annotated[str, typer.Option(help="Time between rounds: 6h, 30m, 90s, 1d.")] = "6h",
    rounds: Annotated[
        int, typer.Option(min=0, max=1_000_000, help="Stop after this many rounds (0: never).")
    ] = 0,
    provider: Annotated[str | None, PROVIDER_OPTION] = None,
) -> None:
    """Fetch the watched pages every interval until stopped (SIGTERM or Ctrl-C stop it
    cleanly between rounds). A failed page is reported and retried next round."""
    from autopack.services.policy_monitor import PolicyMonitor

    seconds = parse_every(every)
    stop = threading.Event()
    done = 0
    with runtime() as rt, _stop_on_signals(stop):
        monitor = PolicyMonitor(rt)
        err(f"autopack policy watch: every {every} (SIGTERM or Ctrl-C stops)")
        while not stop.is_set():
            reports = monitor.fetch(provider)
            _print_reports(reports)
            failure = _failed(reports)
            if failure is not None:
                err(f"warning: {failure.message}")
            done += 1
            if rounds and done >= rounds:
                break
            stop.wait(seconds)
    err(f"autopack policy watch: stopped after {done} round(s)")
