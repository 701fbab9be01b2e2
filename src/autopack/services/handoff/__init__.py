"""Sub-agent handoff: run context, task briefs, the output contract (see ``service``)."""

from autopack.services.handoff.service import HandoffService

__all__ = ["HandoffService"]
