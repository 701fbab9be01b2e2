"""Helpers for tests whose actions pass the policy gate (publish or list actions of
a provider under the policy monitor): make the provider's policy current."""

from __future__ import annotations

import httpx

from autopack.services.context import Runtime
from autopack.services.policy_monitor import PolicyMonitor

POLICY_HTML = "<html><body><h1>Terms</h1><p>Publish only what you may.</p></body></html>"


def policy_site(html: str = POLICY_HTML) -> httpx.MockTransport:
    """The provider's policy site at the HTTP boundary: every page answers ``html``."""
    return httpx.MockTransport(
        lambda _request: httpx.Response(200, text=html, headers={"Content-Type": "text/html"})
    )


def clear_policy(runtime: Runtime, *providers: str) -> None:
    """Fetch every watched page of each provider once: fresh, first snapshots
    (acknowledged), valid for the freshness window. Packets built afterwards with
    ``packet_service(runtime)`` cite them."""
    monitor = PolicyMonitor(runtime, transport=policy_site())
    for provider in providers:
        reports = monitor.fetch(provider)
        assert reports
        assert all(r["outcome"] in ("first", "unchanged") for r in reports), reports
