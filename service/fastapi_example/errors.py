"""Every error is JSON {"detail": ...}; a lost database is a 503, never a hang or a text 500."""

import logging
import math
import re
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from fastapi_example.db import DatabaseUnavailable
from fastapi_example.deps import admin_user, check_version, current_user

log = logging.getLogger(__name__)

# Documented on every route so clients (and schemathesis) know the shape.
ERROR_RESPONSE = {
    "description": "Error",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {"detail": {"type": "string"}},
                "required": ["detail"],
            }
        }
    },
}


# How much of a rejected value a 422 shows: enough to find it, never a body's worth.
ECHO_CHARACTERS = 40
# Fields whose rejected value a 422 never shows: a password mistyped or too long is still
# most of one, and a refresh token cut short is still most of its secret.
SECRET_FIELDS = frozenset({"password", "current_password", "refresh_token"})
HIDDEN = "(hidden)"


def echo(value: Any) -> Any:
    """A rejected input as a 422 may show it: scalars only, text cut short, never text JSON
    cannot carry (a lone surrogate) nor a number it cannot (NaN, Infinity, a huge integer).
    An object or a list (a whole body, a password beside the wrong field) shows empty, and
    so does a body of another content type (a form), which FastAPI validates as bytes."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if abs(value) < 2**53 else "integer out of range"
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dict | bytes | bytearray):
        return {}
    if isinstance(value, list | tuple | set):
        return []
    text = value if isinstance(value, str) else str(value)
    if len(text) > ECHO_CHARACTERS:
        text = text[:ECHO_CHARACTERS] + "…"
    return text.encode("utf-8", "replace").decode()


def rendered(error: dict) -> dict:
    """One validation error in the 422's shape (FastAPI's: loc, msg, type, input, ctx)."""
    shown = {
        "type": str(error["type"]),
        "loc": [part if isinstance(part, int) else echo(part) for part in error["loc"]],
        "msg": str(error["msg"]).encode("utf-8", "replace").decode()[:200],
    }
    if "input" in error:
        secret = any(part in SECRET_FIELDS for part in error["loc"])
        shown["input"] = HIDDEN if secret else echo(error["input"])
    if error.get("ctx"):
        shown["ctx"] = {str(key): echo(value) for key, value in error["ctx"].items()}
    return shown


def validation_failed(errors: list[dict]) -> JSONResponse:
    return JSONResponse({"detail": [rendered(error) for error in errors]}, status_code=422)


def errors(*codes: int) -> dict:
    """The error responses a router documents."""
    return {code: ERROR_RESPONSE for code in codes}


def database_unavailable() -> JSONResponse:
    return JSONResponse(
        {"detail": "Database unavailable, try again shortly"},
        status_code=503,
        headers={"Retry-After": "5"},
    )


async def _on_database_unavailable(_request: Request, exc: DatabaseUnavailable) -> JSONResponse:
    # Its message names the cause (a MySQL error number, an SQLite result code), never the
    # driver's text, which may quote a request's values.
    cause = exc.__cause__ or exc
    log.warning("database unavailable", extra={"error": type(cause).__name__, "reason": str(exc)})
    return database_unavailable()


async def _on_validation_error(request: Request, exc: RequestValidationError) -> Response:
    """FastAPI parses a JSON body before it solves a route's dependencies, so a body it cannot
    parse would be answered 422 before the X-Version, token and admin checks: a caller
    without a valid token or the rights would learn about the route's input. Those checks
    run first here (docs/decisions/0008-checks-before-an-unreadable-body.md)."""
    route = request.scope.get("route")
    if route is not None and any(error["type"] == "json_invalid" for error in exc.errors()):
        checks = {dependency.call for dependency in route.dependant.dependencies}
        try:
            if check_version in checks:
                await check_version(request, request.headers.get("x-version", ""))
            if current_user in checks:
                caller = await current_user(request)
                if admin_user in checks:
                    await admin_user(caller)
        except HTTPException as refused:
            return await http_exception_handler(request, refused)
        except DatabaseUnavailable as lost:
            return await _on_database_unavailable(request, lost)
    return validation_failed(exc.errors())


def allowed_methods(request: Request) -> str | None:
    """The methods the API documents for this path, for a 405's Allow. Starlette's router
    names only the first route of the path it tried, and the static files' mount at / (which
    matches any path) its own GET and HEAD. FastAPI's routes answer the methods they
    declare, so a GET route takes no HEAD."""
    for template, operations in request.app.openapi()["paths"].items():
        if re.fullmatch(re.sub(r"\{[^/}]+\}", "[^/]+", template), request.url.path):
            return ", ".join(sorted(method.upper() for method in operations))
    return None


async def _on_http_error(request: Request, exc: StarletteHTTPException) -> Response:
    # FastAPI answers a body it could not parse (not UTF-8, a number too long to convert)
    # with an undocumented 400: it is bad input, a 422.
    if exc.status_code == 400 and exc.__cause__ is not None:
        error = {
            "type": "json_invalid",
            "loc": ("body", 0),
            "msg": "Body is not valid JSON",
            "input": {},
        }
        return await _on_validation_error(request, RequestValidationError([error]))
    # A GET or HEAD on a path the API documents for other methods only (POST /auth/token,
    # HEAD /roles) falls through to the static files' mount at /, whose 404 would say there
    # is no such resource: it is the method that is not allowed.
    allowed = allowed_methods(request) if exc.status_code == 404 else None
    if allowed and request.method not in allowed.split(", "):
        exc = StarletteHTTPException(405, "Method Not Allowed", headers={"Allow": allowed})
    if exc.status_code == 405 and (allowed := allowed_methods(request)):
        headers = {**(exc.headers or {}), "Allow": allowed}
        exc = StarletteHTTPException(405, exc.detail, headers=headers)
    return await http_exception_handler(request, exc)


async def _on_unhandled(_request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error", exc_info=exc)
    # Starlette hands the error on to the server after this answer, and uvicorn then closes
    # the connection: a client must not send its next request on it.
    return JSONResponse(
        {"detail": "Internal server error"}, status_code=500, headers={"Connection": "close"}
    )


def add_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(DatabaseUnavailable, _on_database_unavailable)
    app.add_exception_handler(Exception, _on_unhandled)
