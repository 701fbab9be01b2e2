"""Console login over HTTP: a principal's API key for a session cookie (documented
in the API contract). The key is read once and never stored in the browser."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from autopack.api.deps import ActorDep, RuntimeDep
from autopack.api.schemas import Login, SessionEnded, SessionOpened, WhoAmI, error_responses
from autopack.domain.error_codes import ErrorCode
from autopack.domain.principals import PERMISSIONS, Actor
from autopack.domain.sessions import CSRF_COOKIE, SESSION_COOKIE, SESSION_LIFETIME
from autopack.services.sessions import SessionService

router = APIRouter(prefix="/api")


def _who(actor: Actor, authenticated_by: str, expires_at: str | None) -> dict[str, object]:
    return {
        "principal": actor.name,
        "principal_id": actor.principal_id,
        "role": actor.role.value,
        "permissions": sorted(p.value for p in PERMISSIONS[actor.role]),
        "authenticated_by": authenticated_by,
        "expires_at": expires_at,
    }


def _set_cookies(request: Request, response: Response, token: str, csrf: str) -> None:
    secure = request.url.scheme == "https"
    max_age = int(SESSION_LIFETIME.total_seconds())
    response.set_cookie(
        SESSION_COOKIE, token, max_age=max_age, httponly=True, secure=secure, samesite="strict"
    )
    # Readable by the page's script, which echoes it in X-CSRF-Token (double-submit).
    response.set_cookie(
        CSRF_COOKIE, csrf, max_age=max_age, httponly=False, secure=secure, samesite="strict"
    )


@router.post(
    "/session",
    status_code=201,
    response_model=SessionOpened,
    responses=error_responses(
        ErrorCode.NOT_A_PRINCIPAL_KEY, ErrorCode.INVALID_API_KEY, protected=False, validated=True
    ),
)
def log_in(body: Login, request: Request, response: Response, rt: RuntimeDep) -> dict[str, object]:
    opened = SessionService(rt).open(body.api_key)
    _set_cookies(request, response, opened.token, opened.csrf_token)
    return {**_who(opened.actor, "session", opened.expires_at), "csrf_token": opened.csrf_token}


@router.get("/session", response_model=WhoAmI, responses=error_responses())
def who_am_i(request: Request, actor: ActorDep) -> dict[str, object]:
    # The middleware authenticated this request and noted how (and until when).
    return _who(actor, request.state.authenticated_by, request.state.session_expires_at)


@router.delete("/session", response_model=SessionEnded, responses=error_responses())
def log_out(request: Request, response: Response, rt: RuntimeDep) -> dict[str, bool]:
    ended = SessionService(rt).end(request.cookies.get(SESSION_COOKIE, ""))
    secure = request.url.scheme == "https"
    for name, httponly in ((SESSION_COOKIE, True), (CSRF_COOKIE, False)):
        response.delete_cookie(name, httponly=httponly, secure=secure, samesite="strict")
    return {"ended": ended}
