from fastapi import Request, Response, status

from fastapi_example.data import sessions
from fastapi_example.db import DatabaseDep
from fastapi_example.deps import (
    CurrentUser,
    SettingsDep,
    VersionChecked,
    unauthorized,
)
from fastapi_example.login import authenticate, client_address
from fastapi_example.logs import USER_ID_KEY
from fastapi_example.models import LoginRequest, RefreshRequest, TokenPair, UserPublic
from fastapi_example.routes import PrefixedRouter

router = PrefixedRouter(prefix="/auth", tags=["auth"], dependencies=[VersionChecked])


@router.get("/me", response_model=UserPublic)
async def me(user: CurrentUser):
    return user


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(user: CurrentUser, db: DatabaseDep) -> None:
    """End the current session only."""
    await sessions.end_session(db, user.session_id)


def not_stored(response: Response) -> None:
    """Tokens are not to be kept by a cache on the way (RFC 6749, 5.1)."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"


@router.post("/token", response_model=TokenPair)
async def login(
    body: LoginRequest,
    request: Request,
    response: Response,
    db: DatabaseDep,
    settings: SettingsDep,
):
    """Open a session (one per device) and get its access and refresh tokens."""
    not_stored(response)
    user = await authenticate(
        db,
        body.username,
        body.password,
        client_address(request),
        settings,
        request.app.state.metrics,
        challenge={"WWW-Authenticate": "Bearer"},
    )
    request.scope[USER_ID_KEY] = user["id"]
    pair = await sessions.open_session(db, user["id"], user["hashed_password"], settings)
    if pair is None:  # disabled or its password reset while the password was checked
        raise unauthorized("Incorrect username or password")
    return pair


@router.post("/refresh", response_model=TokenPair)
async def refresh(body: RefreshRequest, response: Response, db: DatabaseDep, settings: SettingsDep):
    """Exchange a refresh token for new tokens; reusing an exchanged one ends the session."""
    not_stored(response)
    pair = await sessions.rotate_session(db, body.refresh_token, settings)
    if pair is None:
        raise unauthorized("Invalid or expired refresh token")
    return pair
