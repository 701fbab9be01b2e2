"""Notification delivery status over HTTP (documented in the API contract)."""

from __future__ import annotations

from fastapi import APIRouter

from autopack.api.deps import ActorDep, RuntimeDep
from autopack.api.schemas import NotificationStatus, error_responses
from autopack.domain.error_codes import ErrorCode
from autopack.domain.principals import Permission
from autopack.services.notifications.overview import notification_overview

router = APIRouter(prefix="/api")


@router.get("/notifications", responses=error_responses(ErrorCode.FORBIDDEN))
def notifications_status(rt: RuntimeDep, actor: ActorDep) -> NotificationStatus:
    """What `autopack notify status` shows: outbox counts, the last delivery, the
    last failure's class; the webhook only by its origin, never a secret."""
    actor.require(Permission.READ_ALL)
    return NotificationStatus.model_validate(notification_overview(rt))
