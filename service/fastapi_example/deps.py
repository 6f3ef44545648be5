"""Request dependencies: settings, the current session and user, and permission checks."""

from typing import Annotated, NamedTuple

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import bindparam
from sqlmodel import select

from fastapi_example.db import read_session
from fastapi_example.logs import USER_ID_KEY
from fastapi_example.models import Token, User, utcnow
from fastapi_example.security import token_digest
from fastapi_example.settings import Settings


# Dependencies that do no I/O are `async def`: FastAPI runs plain `def` ones in the threadpool,
# and each such hop costs more than the work itself.
async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]
_bearer = HTTPBearer(auto_error=False, description="The access token from POST /auth/token")


def unauthorized(detail: str) -> HTTPException:
    return HTTPException(status_code=401, detail=detail, headers={"WWW-Authenticate": "Bearer"})


class Auth(NamedTuple):
    user: User
    session: Token


# Built once: constructing the statement on every request cost more than running it.
_SESSION_BY_ACCESS_TOKEN = (
    select(Token, User)
    .join(User, User.id == Token.user_id)
    .where(Token.access_token_hash == bindparam("digest"))
)


async def get_auth(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Auth:
    """The session and user of the bearer token: one autocommit read, no connection kept."""
    if credentials is None:
        raise unauthorized("Not authenticated")
    digest = token_digest(credentials.credentials)
    async with read_session(request) as db:
        row = (await db.exec(_SESSION_BY_ACCESS_TOKEN, params={"digest": digest})).first()
    if row is None or row[0].access_expires_at <= utcnow() or not row[1].activated:
        raise unauthorized("Invalid or expired token")
    request.scope[USER_ID_KEY] = row[1].id
    return Auth(user=row[1], session=row[0])


AuthDep = Annotated[Auth, Depends(get_auth)]


async def get_current_user(auth: AuthDep) -> User:
    return auth.user


async def get_admin_user(auth: AuthDep) -> User:
    if not auth.user.is_admin:
        raise HTTPException(status_code=403, detail="Admin rights required")
    return auth.user


CurrentUser = Annotated[User, Depends(get_current_user)]
AdminUser = Annotated[User, Depends(get_admin_user)]
