"""Probes: /healthz (process alive) and /readyz (database answers and not draining)."""

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Engine, text
from starlette.concurrency import run_in_threadpool

router = APIRouter(tags=["health"])
READY_TIMEOUT_SECONDS = 1.0


def _ping(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "Draining or database unavailable"}})
async def readyz(request: Request):
    if request.app.state.draining:
        return JSONResponse({"detail": "Shutting down"}, status_code=503)
    try:
        with anyio.fail_after(READY_TIMEOUT_SECONDS):
            await run_in_threadpool(_ping, request.app.state.engine)
    except Exception:
        return JSONResponse({"detail": "Database unavailable"}, status_code=503)
    return {"status": "ready"}
