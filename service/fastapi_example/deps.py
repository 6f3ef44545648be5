"""The routes' dependencies: settings, the X-Version check, the caller and admin rights.

The database is db.DatabaseDep. Dependencies without I/O are `async def` too: FastAPI runs
a plain `def` dependency in its threadpool, a hand-off that costs more than the work.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request
from fastapi.security import HTTPBearer

from fastapi_example.catalog import CatalogCache
from fastapi_example.data import sessions
from fastapi_example.db import Database
from fastapi_example.logs import USER_ID_KEY
from fastapi_example.models import ADMIN_ROLE_ID, MAX_VERSION_LENGTH
from fastapi_example.security import token_digest
from fastapi_example.settings import Settings


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_catalog(request: Request) -> CatalogCache:
    """The roles and versions, reloaded first when older than VERSIONS_CACHE_SECONDS."""
    return await request.app.state.catalog.fresh()


CatalogDep = Annotated[CatalogCache, Depends(get_catalog)]

X_VERSION = "The client's version; absent means current"


async def check_version(
    request: Request,
    x_version: Annotated[
        str,
        # Documented with its limit; a longer value is answered 426 like any unknown one.
        Header(description=X_VERSION, json_schema_extra={"maxLength": MAX_VERSION_LENGTH}),
    ] = "",
) -> None:
    """426 with an Upgrade header for an unsupported or unknown version; absent or empty
    passes. Routers declare it first, so it comes before the token and the input checks."""
    lines = request.headers.getlist("x-version")
    if len(lines) > 1:  # one value, the lines joined by commas (RFC 9110), as a proxy may
        x_version = ", ".join(lines)  # merge them: never only the first line's version
    # Whitespace around a field's value is not part of it (RFC 9110); the server strips
    # only what precedes it.
    x_version = x_version.strip(" \t")
    if not x_version:
        return
    catalog = await get_catalog(request)
    supported = catalog.supported(x_version)
    if supported:
        return
    reason = "unknown" if supported is None else "unsupported"
    request.app.state.metrics.version_rejections.labels(reason).inc()
    raise HTTPException(
        status_code=426,
        detail="Version not supported anymore" if reason == "unsupported" else "Unknown version",
        headers={"Upgrade": f"X-Version/{catalog.latest_supported() or 'latest'}"},
    )


VersionChecked = Depends(check_version)


def unauthorized(detail: str) -> HTTPException:
    return HTTPException(status_code=401, detail=detail, headers={"WWW-Authenticate": "Bearer"})


@dataclass(slots=True)
class Caller:
    """The caller: the user row read with the access token (UserPublic's fields, which
    GET /auth/me answers) and the session the token belongs to."""

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


class BearerCaller(HTTPBearer):
    """The bearer scheme (HTTPBearer: 401 without a bearer token, and the scheme in the
    OpenAPI document), resolved to the caller of the token: one autocommit read, else 401.

    One dependency rather than a caller dependency on top of HTTPBearer's: each level FastAPI
    solves per request costs about as much as the token's lookup
    (docs/decisions/0004-bearer-caller.md).
    """

    async def __call__(self, request: Request) -> Caller:
        credentials = await super().__call__(request)
        db: Database = request.app.state.db
        found = await sessions.caller_of_access_token(db, token_digest(credentials.credentials))
        if found is None:
            raise unauthorized("Invalid or expired token")
        request.scope[USER_ID_KEY] = found["id"]  # for the access log
        return Caller(**found)


# Named as FastAPI names HTTPBearer's scheme, which clients of the document know.
current_user = BearerCaller(
    scheme_name="HTTPBearer", description="The access token from POST /auth/token"
)
CurrentUser = Annotated[Caller, Depends(current_user)]


async def admin_user(user: CurrentUser) -> Caller:
    if not user.is_admin:
        raise HTTPException(status_code=403, detail="Admin rights required")
    return user


AdminUser = Annotated[Caller, Depends(admin_user)]
