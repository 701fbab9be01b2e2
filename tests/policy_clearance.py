"""Clear the policy gate for tests that publish through a real provider's fake.

A publish or list action of YouTube, Etsy or Shopify waits until the
provider's watched policy pages are fetched, fresh and acknowledged. Tests that
are about something else serve one local policy page per provider (never the
real ones), watch only it, and fetch it once: the first snapshot counts as
acknowledged, and it stays fresh for the window (7 days), so the site can stop
right after. Packets built afterwards with ``packet_service(rt)`` cite it.
"""

from __future__ import annotations

from autopack.services.context import Runtime
from autopack.services.policy_monitor import PolicyMonitor
from policy.policy_site import serve_policy_site

TERMS = "<html><body><h1>Terms</h1><p>Disclose synthetic media.</p></body></html>"


def clear_policy(runtime: Runtime, *providers: str) -> None:
    monitor = PolicyMonitor(runtime)
    with serve_policy_site() as site:
        for provider in providers:
            path = f"/{provider}/terms"
            site.pages[path] = TERMS
            for page in monitor.pages(provider):
                monitor.remove_page(provider, page["url"], actor="tests")
            monitor.add_page(provider, site.url(path), actor="tests")
            reports = monitor.fetch(provider)
            assert [r["outcome"] for r in reports] == ["first"], reports
