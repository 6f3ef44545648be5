"""FastAPI's own cost per request: one route answering a constant, in-process.

The numbers direct.py and benchmarks/HISTORY.md (twelfth round) cite: the same endpoint
served by bare ASGI, by Starlette, by FastAPI through an included router, by FastAPI with
FastAPI's handler replaced (the endpoint returned by get_route_handler) and by
fastapi_example's DirectRoute. Each app is called with ASGI messages (no server, no
socket, no database) on uvloop; best and median of five runs of 10,000 calls each.

    cd benchmarks && python framework.py   (prints a table, writes results/framework-<UTC>.json)
"""

import json
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

import run
import uvloop
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.routing import APIRoute
from starlette.applications import Starlette
from starlette.routing import Route

from fastapi_example.direct import DirectRoute

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


def fastapi_app(route_class: type[APIRoute]) -> FastAPI:
    router = APIRouter(prefix="/p", route_class=route_class)
    router.add_api_route("/x", constant, methods=["GET"])
    app = FastAPI(telemetry={"tracing": False, "metrics": False, "logs": False})
    app.include_router(router)
    return app


APPS = [
    ("bare ASGI", bare),
    ("Starlette", Starlette(routes=[Route("/p/x", constant)])),
    ("FastAPI", fastapi_app(APIRoute)),
    ("FastAPI, handler replaced", fastapi_app(HandlerOnly)),
    ("FastAPI, DirectRoute", fastapi_app(DirectRoute)),
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
