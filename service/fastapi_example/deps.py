"""Request dependencies and the caller: settings, the bearer token's user, admin rights."""

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Response
from fastapi.security.utils import get_authorization_scheme_param
from sqlalchemy import bindparam, select

from fastapi_example.db import database
from fastapi_example.driver import Prepared
from fastapi_example.logs import USER_ID_KEY
from fastapi_example.models import ADMIN_ROLE_ID, Token, User, UserPublic, utcnow
from fastapi_example.rows import public_columns
from fastapi_example.security import token_digest
from fastapi_example.settings import Settings
from fastapi_example.versions import VersionedRoute


# Dependencies that do no I/O are `async def`: FastAPI runs plain `def` ones in the threadpool,
# and each such hop costs more than the work itself.
async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


def unauthorized(detail: str) -> HTTPException:
    return HTTPException(status_code=401, detail=detail, headers={"WWW-Authenticate": "Bearer"})


@dataclass
class Caller:
    """The caller's user row as read with the token (UserPublic's fields), and the session
    the token belongs to. A dataclass: building a pydantic model for it (model_construct)
    took 4.5 µs of every authenticated request, this 0.7 µs. GET /auth/me answers
    UserPublic's fields of it (a test keeps the two field lists the same)."""

    username: str
    id: int
    role_id: int
    activated: bool
    created_at: datetime
    updated_at: datetime
    session_id: int

    @property
    def is_admin(self) -> bool:
        return self.role_id == ADMIN_ROLE_ID


_CALLER_FIELDS = tuple(field.name for field in fields(Caller))


# Built once (building it per request cost more than running it). Core, not the ORM: reading
# plain columns into a pydantic model costs a third less CPU than loading two ORM objects.
_SESSION_BY_ACCESS_TOKEN = Prepared(
    select(Token.id.label("session_id"), Token.access_expires_at, *public_columns(UserPublic, User))
    .join_from(Token, User, User.id == Token.user_id)
    .where(Token.access_token_hash == bindparam("digest"))
)


BEARER_SCHEME = "HTTPBearer"  # the security scheme's name in the OpenAPI document
# The scheme as HTTPBearer(description=...) would declare it; main.py adds it to the document.
BEARER = {
    "type": "http",
    "description": "The access token from POST /auth/token",
    "scheme": "bearer",
}
CALLER_KEY = "fastapi_example.caller"  # set in the ASGI scope by CallerRoute


async def authenticate(request: Request) -> Caller:
    """The caller of the bearer token: one autocommit read, no connection kept; else 401."""
    scheme, token = get_authorization_scheme_param(request.headers.get("authorization"))
    if scheme.lower() != "bearer" or not token:
        raise unauthorized("Not authenticated")
    digest = token_digest(token)
    rows = await database(request).rows(_SESSION_BY_ACCESS_TOKEN, {"digest": digest})
    row = rows[0] if rows else None
    if row is None or row["access_expires_at"] <= utcnow() or not row["activated"]:
        raise unauthorized("Invalid or expired token")
    request.scope[USER_ID_KEY] = row["id"]
    return Caller(*[row[name] for name in _CALLER_FIELDS])


class CallerRoute(VersionedRoute):
    """A route only a caller with a valid access token reaches: after the X-Version check,
    before FastAPI reads the request (a 401 comes before any 422). The route gets the caller
    with `current_user(request)`.

    FastAPI's idiom is a router dependency; solving it cost a hot read about 100k
    instructions, more than the token's lookup (benchmarks/HISTORY.md, eleventh round). The
    route documents the bearer scheme as such a dependency would (main.py adds the scheme).
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.openapi_extra = {**self.openapi_extra, "security": [{BEARER_SCHEME: []}]}

    def around(self, handler):
        async def authenticated(request: Request) -> Response:
            request.scope[CALLER_KEY] = await authenticate(request)
            return await handler(request)

        return super().around(authenticated)  # the X-Version check first


def current_user(request: Request) -> Caller:
    """The caller of a CallerRoute's request."""
    return request.scope[CALLER_KEY]


async def admin_caller(request: Request) -> Caller:
    """A dependency, so a caller who is not an admin gets 403 before the body is read."""
    user = current_user(request)
    if not user.is_admin:
        raise HTTPException(status_code=403, detail="Admin rights required")
    return user


AdminUser = Annotated[Caller, Depends(admin_caller)]
