"""Redoc at /docs and the schema at /openapi.json, behind HTTP Basic (DOCS_ACCESS)."""

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.openapi.docs import get_redoc_html
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from pydantic import ValidationError

from fastapi_example.db import DatabaseDep
from fastapi_example.deps import SettingsDep
from fastapi_example.login import authenticate, client_address
from fastapi_example.models import ADMIN_ROLE_ID, LoginRequest

router = APIRouter(include_in_schema=False)
_basic = HTTPBasic(auto_error=False)
_CHALLENGE = {"WWW-Authenticate": 'Basic realm="fastapi-example docs"'}


async def docs_access(
    request: Request,
    db: DatabaseDep,
    settings: SettingsDep,
    credentials: Annotated[HTTPBasicCredentials | None, Depends(_basic)],
) -> None:
    if settings.docs_access == "public":
        return
    not_authenticated = HTTPException(
        status_code=401, detail="Not authenticated", headers=_CHALLENGE
    )
    if credentials is None:
        raise not_authenticated
    try:
        # The rules of POST /auth/token's body: a value no login could have is refused here.
        login = LoginRequest(username=credentials.username, password=credentials.password)
    except ValidationError:
        raise not_authenticated from None
    user = await authenticate(
        db,
        login.username,
        login.password,
        client_address(request),
        settings,
        request.app.state.metrics,
        challenge=_CHALLENGE,
    )
    if settings.docs_access == "admin" and user["role_id"] != ADMIN_ROLE_ID:
        raise HTTPException(status_code=403, detail="Admin rights required")


DocsAccess = Depends(docs_access)


@router.get("/", dependencies=[])
def root() -> RedirectResponse:
    return RedirectResponse("/docs")


@router.get("/docs", dependencies=[DocsAccess])
def redoc(request: Request):
    return get_redoc_html(openapi_url="/openapi.json", title=f"{request.app.title} docs")


@router.get("/openapi.json", dependencies=[DocsAccess])
def openapi(request: Request) -> JSONResponse:
    return JSONResponse(request.app.openapi())
