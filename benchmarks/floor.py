"""The FastAPI floor: three of the baseline's reads served by the smallest idiomatic FastAPI app.

`make bench-instructions` counts it beside the API and the baseline, so a route's gap to
the baseline splits in two: what FastAPI itself costs (this app against the baseline) and
what the API adds on top (the API against this app: its access log, metrics, X-Version
check, routers, database layer). The SQL, the driver and the pool are the baseline's own;
the routes are declared on the app itself with a dependency for the caller and a response
model each, as in FastAPI's tutorial, and no middleware. Like the API (and unlike the
baseline), each statement takes a pooled connection of its own.

    uvicorn --app-dir benchmarks floor:app   (as the baseline: DB_NAME, PASSWORD_PEPPER)
"""

from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated

import baseline
from fastapi import Depends, FastAPI, HTTPException, Request
from pydantic import BaseModel

USER_KEYS = ("id", "username", "role_id", "activated", "created_at", "updated_at")
ITEM_KEYS = ("id", "name", "description", "user_id", "created_at", "updated_at")


class RoleOut(BaseModel):
    id: int
    name: str


class UserOut(BaseModel):
    username: str
    id: int
    role_id: int
    activated: bool
    created_at: datetime
    updated_at: datetime


class ItemOut(BaseModel):
    name: str
    description: str | None
    id: int
    user_id: int
    created_at: datetime
    updated_at: datetime


@asynccontextmanager
async def lifespan(_app: FastAPI):
    baseline.pool = await baseline.open_pool(True)
    try:
        yield
    finally:
        baseline.pool.close()
        await baseline.pool.wait_closed()


app = FastAPI(lifespan=lifespan, telemetry={"tracing": False, "metrics": False, "logs": False})


async def fetch(sql: str, args: tuple = ()) -> tuple:
    async with baseline.pool.acquire() as conn:
        return await baseline.fetch(conn, sql, args)


async def current_user(request: Request) -> dict:
    header = {b"authorization": request.headers.get("authorization", "").encode()}
    try:
        async with baseline.pool.acquire() as conn:
            row = await baseline.authenticate({"headers": header}, conn)
    except baseline.Reply as reply:
        raise HTTPException(reply.status, reply.body["detail"]) from None
    return dict(zip(USER_KEYS, row, strict=True))


CurrentUser = Annotated[dict, Depends(current_user)]


@app.get("/roles", response_model=list[RoleOut])
async def roles():
    return [{"id": i, "name": n} for i, n in await fetch("SELECT id, name FROM roles ORDER BY id")]


@app.get("/auth/me", response_model=UserOut)
async def me(user: CurrentUser):
    return user


@app.get("/items/{item_id}", response_model=ItemOut)
async def read_item(item_id: int, _user: CurrentUser):
    sql = f"SELECT {baseline.ITEM_COLUMNS} FROM items WHERE id = %s"  # noqa: S608 - constant
    rows = await fetch(sql, (item_id,))
    if not rows:
        raise HTTPException(404, "Item not found")
    return dict(zip(ITEM_KEYS, rows[0], strict=True))
