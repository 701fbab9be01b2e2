"""The packet service wired to a runtime: its workspace, its runs and the policy
monitor's current acknowledged snapshots."""

from __future__ import annotations

from autopack.domain.packets import PolicyRef
from autopack.services.context import Runtime
from autopack.services.packets import PacketService
from autopack.services.runs import RunService


def current_policy_refs(runtime: Runtime, provider: str) -> list[PolicyRef]:
    """The provider's current acknowledged policy snapshots ([] until the policy
    monitor has one)."""
    return []


def packet_service(runtime: Runtime) -> PacketService:
    return PacketService(
        runtime.settings.workspace_path,
        RunService(runtime),
        policy_refs=lambda provider: current_policy_refs(runtime, provider),
    )
