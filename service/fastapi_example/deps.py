"""Request dependencies: settings, the current session and user, and permission checks."""

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param
from sqlalchemy import bindparam, select

from fastapi_example.db import database
from fastapi_example.driver import Prepared
from fastapi_example.logs import USER_ID_KEY
from fastapi_example.models import Token, User, UserPublic, utcnow
from fastapi_example.rows import public_columns, to_public
from fastapi_example.security import token_digest
from fastapi_example.settings import Settings


# Dependencies that do no I/O are `async def`: FastAPI runs plain `def` ones in the threadpool,
# and each such hop costs more than the work itself.
async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


def unauthorized(detail: str) -> HTTPException:
    return HTTPException(status_code=401, detail=detail, headers={"WWW-Authenticate": "Bearer"})


class Caller(UserPublic):
    """The caller's user row as read with the token, and the session the token belongs to.

    Returned as a UserPublic (GET /auth/me), it shows UserPublic's fields only.
    """

    session_id: int


# Built once (building it per request cost more than running it). Core, not the ORM: reading
# plain columns into a pydantic model costs a third less CPU than loading two ORM objects.
_SESSION_BY_ACCESS_TOKEN = Prepared(
    select(Token.id.label("session_id"), Token.access_expires_at, *public_columns(UserPublic, User))
    .join_from(Token, User, User.id == Token.user_id)
    .where(Token.access_token_hash == bindparam("digest"))
)


class BearerAuth(HTTPBearer):
    """The caller of the bearer token: one autocommit read, no connection kept.

    The security scheme does the lookup itself: each dependency level costs FastAPI more per
    request than the check it would hold, and the hot reads have only this one.
    """

    def __init__(self, *, admin: bool = False) -> None:
        super().__init__(
            auto_error=False,
            scheme_name="HTTPBearer",
            description="The access token from POST /auth/token",
        )
        self.admin = admin

    async def __call__(self, request: Request) -> Caller:
        # HTTPBearer's own parsing, without the credentials model it builds (and validates).
        scheme, token = get_authorization_scheme_param(request.headers.get("authorization"))
        if scheme.lower() != "bearer" or not token:
            raise unauthorized("Not authenticated")
        digest = token_digest(token)
        rows = await database(request).rows(_SESSION_BY_ACCESS_TOKEN, {"digest": digest})
        row = rows[0] if rows else None
        if row is None or row["access_expires_at"] <= utcnow() or not row["activated"]:
            raise unauthorized("Invalid or expired token")
        request.scope[USER_ID_KEY] = row["id"]
        caller = to_public(Caller, row)
        if self.admin and not caller.is_admin:
            raise HTTPException(status_code=403, detail="Admin rights required")
        return caller


CurrentUser = Annotated[Caller, Depends(BearerAuth())]
AdminUser = Annotated[Caller, Depends(BearerAuth(admin=True))]
