"""Probes: /healthz (process alive) and /readyz (database answers and not draining)."""

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from fastapi_example.db import DatabaseDep

router = APIRouter(tags=["health"])
READY_TIMEOUT_SECONDS = 1.0


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "Draining or database unavailable"}})
async def readyz(request: Request, db: DatabaseDep):
    if request.app.state.draining:
        return JSONResponse({"detail": "Shutting down"}, status_code=503)
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS):
            await db.ping()
    except Exception:
        return JSONResponse({"detail": "Database unavailable"}, status_code=503)
    return {"status": "ready"}
