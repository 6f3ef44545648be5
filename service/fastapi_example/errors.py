"""Every error is JSON {"detail": ...}; a lost database is a 503, never a hang or a text 500."""

import logging

from fastapi import FastAPI, HTTPException, Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from fastapi_example.db import DatabaseUnavailable
from fastapi_example.deps import check_version, current_user

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
    cause = exc.__cause__ or exc
    log.warning("database unavailable", extra={"error": type(cause).__name__})
    return database_unavailable()


async def _on_validation_error(request: Request, exc: RequestValidationError) -> Response:
    """FastAPI parses a JSON body before it solves a route's dependencies, so a body it cannot
    parse would be answered 422 before the X-Version and token checks: a caller without a
    valid token would learn about the route's input. Those checks run first here
    (docs/decisions/0008-checks-before-an-unreadable-body.md)."""
    route = request.scope.get("route")
    if route is not None and any(error["type"] == "json_invalid" for error in exc.errors()):
        checks = {dependency.call for dependency in route.dependant.dependencies}
        try:
            if check_version in checks:
                await check_version(request, request.headers.get("x-version", ""))
            if current_user in checks:
                await current_user(request)
        except HTTPException as refused:
            return await http_exception_handler(request, refused)
        except DatabaseUnavailable as lost:
            return await _on_database_unavailable(request, lost)
    return await request_validation_exception_handler(request, exc)


async def _on_http_error(request: Request, exc: StarletteHTTPException) -> Response:
    # FastAPI answers a body that is not UTF-8 with an undocumented 400: it is bad input, a 422.
    if exc.status_code == 400 and isinstance(exc.__cause__, UnicodeDecodeError):
        error = {
            "type": "json_invalid",
            "loc": ("body", 0),
            "msg": "Body is not UTF-8",
            "input": {},
        }
        return await _on_validation_error(request, RequestValidationError([error]))
    return await http_exception_handler(request, exc)


async def _on_unhandled(_request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error", exc_info=exc)
    return JSONResponse({"detail": "Internal server error"}, status_code=500)


def add_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(DatabaseUnavailable, _on_database_unavailable)
    app.add_exception_handler(Exception, _on_unhandled)
