"""Redoc at /docs and the schema at /openapi.json, behind HTTP Basic (DOCS_ACCESS).

Redoc's bundle is served from the package (static/redoc: the pinned release and its
licences), so the page works in a cluster without internet and runs no script the API's
origin does not serve; its Content-Security-Policy allows nothing else.
"""

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


REDOC_JS = "/redoc/redoc.standalone.js"
# Redoc sets its styles inline and searches in a worker it makes from a blob: URL.
DOCS_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "worker-src 'self' blob:",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)


@router.get("/docs", dependencies=[DocsAccess])
def redoc(request: Request):
    page = get_redoc_html(
        openapi_url="/openapi.json",
        title=f"{request.app.title} docs",
        redoc_js_url=REDOC_JS,
        redoc_favicon_url="/logo.png",
        with_google_fonts=False,
    )
    page.headers["Content-Security-Policy"] = DOCS_POLICY
    return page


@router.get("/openapi.json", dependencies=[DocsAccess])
def openapi(request: Request) -> JSONResponse:
    return JSONResponse(request.app.openapi())
