"""`make bench-instructions`: CPU instructions per request, in-process, under valgrind.

wrk's req/s and CPU per request on a shared VM move by ±30 % between runs of the same code;
the instructions a request executes barely move. So, for a change too small to see through
that noise: each route is called in-process (an ASGI call per request, no server, no
sockets), on the API (`create_app`, production settings, JSON access log on), on the
baseline and, for the reads it serves, on the FastAPI floor (floor.py), against MariaDB
with a small data set. Under callgrind, each (server, route) runs twice: WARM requests, then
WARM + COUNT; the difference divided by COUNT is the route's instructions per request,
start-up and warm-up cancelled out. MariaDB runs outside valgrind: only the Python process
is counted. Uvicorn's share is not in these numbers (it is the same for every server), so
API/base here is lower than `make bench`'s throughput ratio.

Prints a table and writes benchmarks/results/instructions-<UTC time>.json. Needs valgrind
(Debian package) and MariaDB at 127.0.0.1:3306 (root, or BENCH_MYSQL_USER and
BENCH_MYSQL_PASSWORD); about 17 minutes on 2 cores.
"""

import asyncio
import json
import os
import re
import subprocess
import sys
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
DB = os.environ.get("BENCH_DB", "fe_instructions")
WARM = int(os.environ.get("BENCH_WARM_REQUESTS", "200"))
COUNT = int(os.environ.get("BENCH_COUNTED_REQUESTS", "500"))
ALL_ROUTES = ["GET /roles", "GET /auth/me", "GET /items/{id}", "GET /items?limit=20"]
ALL_ROUTES += ["GET /items?name=<filter>", "POST /items", "PATCH /items/{id}"]
ALL_ROUTES += ["POST /auth/refresh"]
ROUTES = [r for r in os.environ.get("BENCH_ROUTES", ",".join(ALL_ROUTES)).split(",") if r]
# 1: one request at a time. wrk keeps 16 in flight; above DB_POOL_SIZE (10), requests queue.
IN_FLIGHT = int(os.environ.get("BENCH_IN_FLIGHT", "1"))


def headers(token: str, json_body: bool = False) -> list[tuple[bytes, bytes]]:
    sent = [(b"x-version", b"1.0"), (b"authorization", f"Bearer {token}".encode())]
    return [*sent, (b"content-type", b"application/json")] if json_body else sent


def requests(route: str, data: Path, refresh: deque):
    """Endless (method, path, query, headers, body) for a route, cycling through the data.

    A refresh takes the oldest token of `refresh`; serve() puts each answer's new one back.
    """
    tokens = (data / "tokens.txt").read_text().split()
    owned = [line.split() for line in (data / "owned.txt").read_text().splitlines()]
    n = 0
    while True:
        n += 1
        token = tokens[n % len(tokens)]
        if route == "GET /roles":
            yield "GET", "/roles", b"", headers(token), b""
        elif route == "GET /auth/me":
            yield "GET", "/auth/me", b"", headers(token), b""
        elif route == "GET /items/{id}":
            yield "GET", f"/items/{n % 1000 + 1}", b"", headers(token), b""
        elif route == "GET /items?limit=20":
            yield "GET", "/items", b"limit=20", headers(token), b""
        elif route == "GET /items?name=<filter>":
            name = f"{n * 7919 % 100_000:05d}"  # as wrk's script: a few matches, often none
            yield "GET", "/items", f"limit=20&name={name}".encode(), headers(token), b""
        elif route == "POST /items":
            body = json.dumps({"name": f"counted-{time.time_ns()}"}).encode()
            yield "POST", "/items", b"", headers(token, json_body=True), body
        elif route == "PATCH /items/{id}":
            owner, item_id = owned[n % len(owned)]
            body = json.dumps({"description": f"patched {n}"}).encode()
            yield "PATCH", f"/items/{item_id}", b"", headers(owner, json_body=True), body
        elif route == "POST /auth/refresh":
            body = json.dumps({"refresh_token": refresh.popleft()}).encode()
            yield "POST", "/auth/refresh", b"", headers(token, json_body=True), body


async def serve(app, route: str, data: Path, count: int, refresh: deque) -> None:
    """The app's lifespan, then `count` requests of the route from IN_FLIGHT callers at once,
    each sending its next request when its last one is answered; any answer but 2xx fails."""
    inbox, outbox = asyncio.Queue(), asyncio.Queue()
    await inbox.put({"type": "lifespan.startup"})
    lifespan = {"type": "lifespan", "asgi": {"version": "3.0"}}
    running = asyncio.create_task(app(lifespan, inbox.get, outbox.put))
    assert (await outbox.get())["type"] == "lifespan.startup.complete"
    calls = requests(route, data, refresh)

    async def call() -> None:
        method, path, query, headers, body = next(calls)
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
            "query_string": query, "root_path": "", "headers": headers,
            "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 8080), "state": {},
        }  # fmt: skip
        statuses, answer = [], []

        async def receive():
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message):
            if message["type"] == "http.response.start":
                statuses.append(message["status"])
            elif message["type"] == "http.response.body":
                answer.append(message.get("body", b""))

        await app(scope, receive, send)
        if not 200 <= statuses[0] < 300:
            raise SystemExit(f"{route}: {method} {path} answered {statuses[0]}")
        if route == "POST /auth/refresh":
            refresh.append(json.loads(b"".join(answer))["refresh_token"])

    async def caller(calls_made: int) -> None:
        for _ in range(calls_made):
            await call()

    # A refresh token is good once: no more refreshes in flight than tokens in hand.
    callers = min(IN_FLIGHT, len(refresh)) if route == "POST /auth/refresh" else IN_FLIGHT
    await asyncio.gather(*(caller(len(range(n, count, callers))) for n in range(callers)))
    running.cancel()


def child(server: str, route: str, data: Path, count: int) -> None:
    # Each run its own refresh tokens (dataset.REFRESH_RUNS): a token is good once.
    warm = "-warm" if count == WARM else ""
    tokens = data / f"refresh-{server}{warm}.txt"  # the floor serves no refresh
    refresh = deque(tokens.read_text().split() if tokens.exists() else ())
    if server == "api":
        from fastapi_example.main import create_app

        app = create_app()
    elif server == "floor":
        sys.path.insert(0, str(HERE))
        from floor import app
    else:
        sys.path.insert(0, str(HERE))
        from baseline import app
    asyncio.run(serve(app, route, data, count, refresh))


def counted(server: str, route: str, data: Path, count: int, env: dict) -> int:
    """Instructions callgrind counted for one child process."""
    args = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    args += [sys.executable, __file__, "--child", server, route, str(data), str(count)]
    run = subprocess.run(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    found = re.search(r"Collected : (\d+)", run.stderr.decode())
    if run.returncode or not found:
        raise RuntimeError(f"{server} {route}: {run.stderr.decode()[-2000:]}")
    return int(found[1])


def main() -> None:
    import dataset
    import run

    env = dict(run.api_env(DB), METRICS_PORT="0")
    data = Path(os.environ.get("BENCH_DATA_DIR", "/tmp/fe-instructions"))
    if unknown := set(ROUTES) - set(ALL_ROUTES):
        raise SystemExit(f"BENCH_ROUTES: unknown {sorted(unknown)}; known: {ALL_ROUTES}")
    dataset.build(env, data, 50, 1000, 500)
    sizes = (WARM, WARM + COUNT)
    servers = {
        route: ("api", "baseline", "floor") if route in run.FLOOR_ROUTES else ("api", "baseline")
        for route in ROUTES
    }
    runs = [(server, route, n) for route in ROUTES for server in servers[route] for n in sizes]
    with ThreadPoolExecutor(os.cpu_count() or 2) as pool:
        totals = pool.map(lambda r: counted(r[0], r[1], data, r[2], env), runs)
        total = dict(zip(runs, totals, strict=True))
    result = {}
    head = f"{'route':28} {'API k instr':>12} {'baseline':>10} {'API/base':>9}"
    print(f"{head} {'FastAPI floor':>14} {'floor/base':>11} {'API/floor':>10}")
    for route in ROUTES:
        count = {
            s: (total[s, route, sizes[1]] - total[s, route, sizes[0]]) / COUNT
            for s in servers[route]
        }
        result[route] = {s: round(n) for s, n in count.items()}
        api, base = count["api"], count["baseline"]
        line = f"{route:28} {api / 1000:12.0f} {base / 1000:10.0f} {base / api:9.2f}"
        if "floor" in count:
            floor = count["floor"]
            line += f" {floor / 1000:14.0f} {base / floor:11.2f} {floor / api:10.2f}"
        print(line)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H%M%SZ")
    out = HERE / "results" / f"instructions-{stamp}.json"
    report = {"machine": run.machine(), "warm": WARM, "counted": COUNT, "in_flight": IN_FLIGHT}
    report["routes"] = result
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out.relative_to(HERE.parent)}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2], sys.argv[3], Path(sys.argv[4]), int(sys.argv[5]))
    else:
        main()
