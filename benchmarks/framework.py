"""FastAPI's own cost per request: one route answering a constant, in-process.

What a route costs before any of the API's own work (docs/performance.md): the same
endpoint served by bare ASGI, by Starlette, by FastAPI through an included router, with a
dependency, with a dependency that reads a header parameter, with a response_model that
makes the JSON, and with FastAPI's per-request handler replaced by the endpoint (what an
endpoint costs around the handler). Each app is called with ASGI messages (no server, no
socket, no database) on uvloop; best and median of five runs of 10,000 calls each.

    cd benchmarks && python framework.py   (prints a table, writes results/framework-<UTC>.json)
"""

import json
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import run
import uvloop
from fastapi import APIRouter, Depends, FastAPI, Header, Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.routing import Route

HERE = Path(__file__).resolve().parent
BODY = b'{"status":"ok"}'
CALLS, RUNS = 10_000, 5


async def constant(request: Request) -> Response:
    return Response(BODY, media_type="application/json")


async def bare(scope, receive, send) -> None:
    start = {"type": "http.response.start", "status": 200}
    await send({**start, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": BODY})


class HandlerOnly(APIRoute):
    """FastAPI's handler replaced by the endpoint; FastAPI's wrapper around it kept."""

    def get_route_handler(self):
        return self.endpoint


async def nothing() -> None:
    return None


async def header(x_version: Annotated[str, Header()] = "") -> str:
    return x_version


async def with_dependency(_: Annotated[None, Depends(nothing)]) -> Response:
    return await constant(None)


async def with_header(_: Annotated[str, Depends(header)]) -> Response:
    return await constant(None)


class Status(BaseModel):
    status: str


async def with_model() -> dict:
    return {"status": "ok"}


def fastapi_app(endpoint=constant, route_class: type[APIRoute] = APIRoute, **route) -> FastAPI:
    router = APIRouter(prefix="/p", route_class=route_class)
    router.add_api_route("/x", endpoint, methods=["GET"], **route)
    app = FastAPI(telemetry={"tracing": False, "metrics": False, "logs": False})
    app.include_router(router)
    return app


APPS = [
    ("bare ASGI", bare),
    ("Starlette", Starlette(routes=[Route("/p/x", constant)])),
    ("FastAPI", fastapi_app()),
    ("FastAPI, a dependency", fastapi_app(with_dependency)),
    ("FastAPI, a header dependency", fastapi_app(with_header)),
    ("FastAPI, response_model", fastapi_app(with_model, response_model=Status)),
    ("FastAPI, handler replaced", fastapi_app(route_class=HandlerOnly)),
]


def scope() -> dict:
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": "/p/x", "raw_path": b"/p/x", "query_string": b"",
        "root_path": "", "headers": [(b"host", b"bench")], "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80), "state": {},
    }  # fmt: skip


async def receive() -> dict:
    return {"type": "http.request", "body": b"", "more_body": False}


async def send(message: dict) -> None:
    if message["type"] == "http.response.start" and message["status"] != 200:
        raise SystemExit(f"answered {message['status']}")


async def microseconds_per_call(app) -> float:
    started = time.perf_counter()
    for _ in range(CALLS):
        await app(scope(), receive, send)
    return (time.perf_counter() - started) / CALLS * 1e6


async def measure() -> dict:
    for _, app in APPS:  # warm up every path once before timing any
        for _ in range(500):
            await app(scope(), receive, send)
    runs: dict[str, list[float]] = {name: [] for name, _ in APPS}
    for _ in range(RUNS):  # interleaved, so a slow moment of the machine hits every app
        for name, app in APPS:
            runs[name].append(await microseconds_per_call(app))
    return {n: {"best_us": min(r), "median_us": statistics.median(r)} for n, r in runs.items()}


def main() -> None:
    result = uvloop.run(measure())
    print(f"{'app':28} {'best µs':>8} {'median µs':>10}")
    for name, numbers in result.items():
        print(f"{name:28} {numbers['best_us']:8.1f} {numbers['median_us']:10.1f}")
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H%M%SZ")
    out = HERE / "results" / f"framework-{stamp}.json"
    report = {"machine": run.machine(), "calls_per_run": CALLS, "runs": RUNS, "apps": result}
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
