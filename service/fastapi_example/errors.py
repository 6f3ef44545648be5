"""Every error is JSON {"detail": ...}; a lost database is a 503, never a hang or a text 500."""

import logging
from collections.abc import Awaitable
from typing import TYPE_CHECKING, TypeVar

from fastapi import FastAPI, HTTPException, Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.exceptions import HTTPException as StarletteHTTPException

if TYPE_CHECKING:
    from fastapi_example.db import Transaction

T = TypeVar("T")
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


def _is_connection_error(exc: DBAPIError) -> bool:
    if exc.connection_invalidated:
        return True
    # MySQL: 2003 can't connect, 2006 gone away, 2013 lost connection, 1040 too many
    # connections, 1205 lock wait timeout, 1213 deadlock (after retries); SQLite: locked.
    code = exc.orig.args[0] if exc.orig is not None and exc.orig.args else None
    transient = (2003, 2006, 2013, 1040, 1205, 1213)
    return code in transient or "database is locked" in str(exc.orig)


def database_unavailable() -> JSONResponse:
    return JSONResponse(
        {"detail": "Database unavailable, try again shortly"},
        status_code=503,
        headers={"Retry-After": "5"},
    )


async def _on_db_error(_request: Request, exc: DBAPIError) -> JSONResponse:
    if _is_connection_error(exc):
        log.warning("database unavailable", extra={"error": type(exc.orig).__name__})
        return database_unavailable()
    log.error("database error", extra={"error": type(exc.orig).__name__})
    return JSONResponse({"detail": "Internal server error"}, status_code=500)


async def _on_pool_timeout(_request: Request, _exc: PoolTimeoutError) -> JSONResponse:
    log.warning("database pool exhausted")
    return database_unavailable()


async def _on_http_error(request: Request, exc: StarletteHTTPException) -> Response:
    # FastAPI answers a body that is not UTF-8 with an undocumented 400: it is bad input, a 422.
    if exc.status_code == 400 and isinstance(exc.__cause__, UnicodeDecodeError):
        error = {
            "type": "json_invalid",
            "loc": ("body", 0),
            "msg": "Body is not UTF-8",
            "input": {},
        }
        return await request_validation_exception_handler(request, RequestValidationError([error]))
    return await http_exception_handler(request, exc)


async def _on_unhandled(_request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error", exc_info=exc)
    return JSONResponse({"detail": "Internal server error"}, status_code=500)


async def unique_or_409(db: "AsyncSession | Transaction", write: Awaitable[T], detail: str) -> T:
    """await write (a statement or a commit); a unique index refusing it becomes 409 with detail.

    The database, not a check before the write, decides between concurrent writers.
    """
    try:
        return await write
    except IntegrityError:
        await db.rollback()
        raise HTTPException(status_code=409, detail=detail) from None


def add_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(DBAPIError, _on_db_error)
    app.add_exception_handler(PoolTimeoutError, _on_pool_timeout)
    app.add_exception_handler(Exception, _on_unhandled)
