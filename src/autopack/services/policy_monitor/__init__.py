"""The provider policy monitor (see ``service``); the policy gate reads ``page_states``."""

from autopack.services.policy_monitor.fetcher import PageFetcher, PolicyFetchError
from autopack.services.policy_monitor.service import (
    PolicyMonitor,
    PolicyRef,
    freshness_window,
    page_states,
    watched_provider,
)

__all__ = [
    "PageFetcher",
    "PolicyFetchError",
    "PolicyMonitor",
    "PolicyRef",
    "freshness_window",
    "page_states",
    "watched_provider",
]
