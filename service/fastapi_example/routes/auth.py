from fastapi import Request, Response, status

from fastapi_example.db import SessionDep, database, retry_on_deadlock
from fastapi_example.deps import CallerRoute, SettingsDep, current_user, unauthorized
from fastapi_example.login import authenticate
from fastapi_example.logs import USER_ID_KEY
from fastapi_example.models import LoginRequest, RefreshRequest, TokenPair, UserPublic
from fastapi_example.routes import PrefixedRouter
from fastapi_example.rows import public_json
from fastapi_example.sessions import END_SESSION, open_session, rotate_session
from fastapi_example.versions import VersionedRoute

# `router`: the routes of the caller's session (CallerRoute: X-Version, then the bearer
# token); `public`: those that open or renew one. Matched in the order declared, busiest first.
router = PrefixedRouter(prefix="/auth", tags=["auth"], route_class=CallerRoute)
public = PrefixedRouter(prefix="/auth", tags=["auth"], route_class=VersionedRoute)


@router.get("/me", response_model=UserPublic)
async def me(request: Request) -> Response:
    # The caller's fields as read with the token.
    return public_json(UserPublic, vars(current_user(request)))


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(request: Request) -> None:
    """End the current session only."""
    async with database(request).transaction() as db:
        await db.execute(END_SESSION, {"session_id": current_user(request).session_id})
        await db.commit()


@public.post("/token", response_model=TokenPair)
async def login(body: LoginRequest, request: Request, db: SessionDep, settings: SettingsDep):
    """Open a session (one per device) and get its access and refresh tokens."""
    user = await authenticate(
        db,
        body.username,
        body.password,
        settings,
        request.app.state.metrics,
        challenge={"WWW-Authenticate": "Bearer"},
    )
    request.scope[USER_ID_KEY] = user.id
    return await retry_on_deadlock(db, open_session, user, settings)


@public.post("/refresh", response_model=TokenPair)
async def refresh(body: RefreshRequest, request: Request) -> Response:
    """Exchange a refresh token for new tokens; reusing an exchanged one ends the session."""
    settings = request.app.state.settings
    async with database(request).transaction() as db:
        pair = await retry_on_deadlock(db, rotate_session, body.refresh_token, settings)
    if pair is None:
        raise unauthorized("Invalid or expired refresh token")
    return public_json(TokenPair, vars(pair))
