"""The packet service wired to a runtime: its workspace, its runs and the policy
monitor's current acknowledged snapshots."""

from __future__ import annotations

from autopack.domain.packets import PolicyRef
from autopack.providers.registry import POLICY_PAGES
from autopack.services.context import Runtime
from autopack.services.packets import PacketService
from autopack.services.policy_monitor.service import PolicyMonitor
from autopack.services.runs import RunService


def current_policy_refs(runtime: Runtime, provider: str) -> list[PolicyRef]:
    """The provider's current acknowledged policy snapshots (every watched page
    whose current snapshot is acknowledged); [] for a provider not monitored."""
    if provider not in POLICY_PAGES:
        return []
    return [
        PolicyRef(provider=ref.provider, url=ref.url, sha256=ref.hash)
        for ref in PolicyMonitor(runtime).current_refs(provider)
    ]


def packet_service(runtime: Runtime) -> PacketService:
    return PacketService(
        runtime.settings.workspace_path,
        RunService(runtime),
        policy_refs=lambda provider: current_policy_refs(runtime, provider),
    )
