"""Probes: /healthz (process alive) and /readyz (database answers and not draining)."""

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

router = APIRouter(tags=["health"])
READY_TIMEOUT_SECONDS = 1.0


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "Draining or database unavailable"}})
async def readyz(request: Request):
    if request.app.state.draining:
        return JSONResponse({"detail": "Shutting down"}, status_code=503)
    try:
        with anyio.fail_after(READY_TIMEOUT_SECONDS):
            await request.app.state.db.ping()
    except Exception:
        return JSONResponse({"detail": "Database unavailable"}, status_code=503)
    return {"status": "ready"}
