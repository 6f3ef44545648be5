"""`make bench`: load, start-up, memory, cleanup and scale measurements of the API.

Prints one table and writes benchmarks/results/bench-<UTC time>.json. Sizes and durations
come from BENCH_* environment variables (see README.md). MariaDB at 127.0.0.1:3306 (root, or
BENCH_MYSQL_USER and BENCH_MYSQL_PASSWORD).
"""

import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import compare
import dataset
import procs
import scale
import seed
from report import evaluate, print_table

HERE = Path(__file__).resolve().parent
DB = os.environ.get("BENCH_DB", "fe_bench")
SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
WARMUP = float(os.environ.get("BENCH_WARMUP_SECONDS", "2"))
USERS = int(os.environ.get("BENCH_USERS", "1000"))
ITEMS = int(os.environ.get("BENCH_ITEMS", "100000"))
SESSIONS = int(os.environ.get("BENCH_SESSIONS", "10000"))
EXPIRED = int(os.environ.get("BENCH_EXPIRED_SESSIONS", "1000000"))
# A 10 s idle p99 moved from 3 to 15 ms between runs on a shared VM; the job takes minutes.
IDLE = float(os.environ.get("BENCH_CLEANUP_IDLE_SECONDS", "60"))
# wrk's window during the job ends with the job; this only bounds a job that hangs. (At
# 3600 s it cut the window short when a slow VM's cleanup took 3981 s.)
CLEANUP_CAP_SECONDS = 6 * 3600
SCALES = [int(n) for n in os.environ.get("BENCH_SCALES", "10000,100000,1000000").split(",")]
BUFFER_POOL_MB = int(os.environ.get("BENCH_INNODB_BUFFER_POOL_MB", "1024"))
# Another checkout of the API (its own .venv), served beside this one on the same data set
# and measured route by route in the same run: "old" in the results (compare.py).
COMPARE = os.environ.get("BENCH_COMPARE", "")
API_PORT, BASELINE_PORT, FLOOR_PORT, OLD_PORT = 18080, 18081, 18082, 18083

# (name in the table, wrk script, the original's req/s where the issue gives one)
ROUTES = [
    ("GET /roles", "roles.lua", 470),
    ("GET /versions", "versions.lua", None),
    ("GET /auth/me", "me.lua", 310),
    ("GET /items/{id}", "item.lua", 290),
    ("GET /items?limit=20", "items_page.lua", 200),
    ("GET /items?name=<filter>", "items_filter.lua", None),
    ("POST /items", "create_item.lua", None),
    ("PATCH /items/{id}", "patch_item.lua", None),
    ("POST /auth/token", "login.lua", None),
    ("POST /auth/refresh", "refresh.lua", None),
]
# Also measured on floor.py (FastAPI alone, the baseline's SQL): the reads it serves.
FLOOR_ROUTES = {"GET /roles", "GET /auth/me", "GET /items/{id}"}


def api_env(database: str) -> dict:
    """Production settings, as the chart gives them to the image."""
    return dict(
        os.environ,
        ENVIRONMENT="production",
        ADMIN_PASSWORD="bench-admin-password",
        PASSWORD_PEPPER="bench-pepper",
        DB_HOST="127.0.0.1",
        DB_PORT="3306",
        DB_NAME=database,
        DB_USER=seed.MYSQL_USER,
        DB_PASSWORD=seed.MYSQL_PASSWORD,
        LOG_LEVEL="INFO",
        LOG_FORMAT="json",
        METRICS_PORT="18000",
        BENCH_PASSWORD=seed.PASSWORD,
    )


def sql_value(query: str):
    with seed.connect() as conn, conn.cursor() as cur:
        cur.execute(query)
        return cur.fetchone()[0]


def machine() -> dict:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    mem_kb = int(next(line for line in meminfo if line.startswith("MemTotal")).split()[1])
    versions = {}
    for package in (
        "fastapi",
        "starlette",
        "uvicorn",
        "sqlalchemy",
        "sqlmodel",
        "pymysql",
        "asyncmy",
        "pydantic",
    ):
        from importlib.metadata import version

        versions[package] = version(package)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE
    ).stdout.strip()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "os": platform.freedesktop_os_release().get("PRETTY_NAME", ""),
        "python": platform.python_version(),
        "mariadb": sql_value("SELECT VERSION()"),
        "innodb_buffer_pool_mb": sql_value("SELECT @@innodb_buffer_pool_size") // 2**20,
        "wrk": subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split("\n")[0],
        "packages": versions,
        "git_commit": commit,
        "load_average_at_start": os.getloadavg(),
    }


def import_time(env: dict, python: str = sys.executable) -> float:
    """Median of 5 fresh interpreters importing the app (fastapi_example.main)."""
    code = (
        "import time; t = time.perf_counter(); import fastapi_example.main;"
        " print(time.perf_counter() - t)"
    )
    runs = [
        float(
            subprocess.run(
                [python, "-c", code], env=env, capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(5)
    ]
    return round(statistics.median(runs), 3)


def startup(env: dict, log: Path, command: str = "fastapi-example") -> dict:
    """Process start → /readyz 200, median of 5; the API stopped after each."""
    runs = []
    for _ in range(5):
        server = procs.api(env, API_PORT, log, command)
        runs.append(server.ready_s)
        server.stop()
    return {"median_s": round(statistics.median(runs), 3), "runs_s": [round(r, 3) for r in runs]}


def profile(server: procs.Server, script: str, env: dict, seconds: float) -> list:
    """py-spy (GIL-holding samples) during a wrk run: the top functions, inclusive share."""
    out = server.log.parent / f"profile-{script}.txt"
    spy = subprocess.Popen(
        [
            "py-spy",
            "record",
            "--gil",
            "-r",
            "200",
            "-d",
            str(int(seconds)),
            "-f",
            "raw",
            "-o",
            str(out),
            "-p",
            str(server.process.pid),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    procs.wrk(script, server.url, env, seconds)
    spy.wait()
    return top_functions(out)


# Where a GIL sample's time goes: the innermost frame that belongs to one of these.
COMPONENTS = [
    # asyncmy is compiled: py-spy shows its time in the Python frame that calls it.
    ("asyncmy (driver)", "MySQL\\.run \\(.*dialects\\.py"),
    ("sqlalchemy/sqlmodel", "sqlalchemy/|sqlmodel/|greenlet"),
    ("pydantic", "pydantic"),
    ("threadpool hand-off", "to_thread|WorkerThread|Queue\\.|Condition\\.|_write_to_self"),
    ("logging (access log)", "logging/|fastapi_example/logs.py"),
    ("request metrics", "prometheus|fastapi_example/metrics.py"),
    ("fastapi/starlette", "fastapi/|starlette/"),
    ("uvicorn/httptools", "uvicorn/"),
    ("asyncio/anyio", "asyncio/|anyio/|contextlib|selectors"),
    ("fastapi_example", "fastapi_example/"),
]


def top_functions(raw: Path, count: int = 15) -> dict:
    """Shares of GIL-holding samples by component, and the functions with most self time."""
    components: dict[str, int] = {}
    leaves: dict[str, int] = {}
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, samples = line.rpartition(" ")
        frames, n = stack.split(";"), int(samples)
        total += n
        leaf = frames[-1].rsplit(":", 1)[0] + ")" if ":" in frames[-1] else frames[-1]
        leaves[leaf] = leaves.get(leaf, 0) + n
        name = next(
            (c for f in reversed(frames) for c, pattern in COMPONENTS if re.search(pattern, f)),
            "other",
        )
        components[name] = components.get(name, 0) + n
    share = {k: round(v / max(total, 1), 3) for k, v in components.items()}
    top = sorted(leaves.items(), key=lambda kv: -kv[1])[:count]
    return {
        "samples": total,
        "by_component": dict(sorted(share.items(), key=lambda kv: -kv[1])),
        "top_self": [{"function": f, "share": round(n / max(total, 1), 3)} for f, n in top],
    }


def cleanup(env: dict, server: procs.Server, wenv: dict, user_ids: list[int]) -> dict:
    """1M expired sessions: the job's wall time, the largest transaction, /auth/me p99."""
    started = time.monotonic()
    with seed.connect(DB) as conn:
        seed.seed_expired_sessions(conn, EXPIRED, user_ids)
    seeded_s = time.monotonic() - started
    light = dict(threads=1, connections=4)  # below saturation: p99 is latency, not queueing
    idle = procs.wrk("me.lua", server.url, wenv, IDLE, **light)
    job = subprocess.Popen(
        ["fastapi-example", "cleanup-tokens"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    during = procs.wrk("me.lua", server.url, wenv, CLEANUP_CAP_SECONDS, stop_when=job, **light)
    output = job.stdout.read().decode()
    summary = next(
        (json.loads(line) for line in output.splitlines() if "token cleanup finished" in line), {}
    )
    return {
        "expired_sessions": EXPIRED,
        "idle_seconds": IDLE,
        "seed_s": round(seeded_s, 1),
        "exit_code": job.returncode,
        "job": {
            k: summary.get(k)
            for k in ("deleted_sessions", "batches", "largest_batch", "batch_size", "seconds")
        },
        "idle": idle,
        "during": during,
        "p99_ratio": round(during["p99_ms"] / max(idle["p99_ms"], 0.001), 2),
    }


def main() -> None:
    out_dir = HERE / "results"
    work = Path(tempfile.mkdtemp(prefix="fe-bench-"))
    env = api_env(DB)
    # The other checkout's API reads a copy of the data set, in the schema its own
    # migrations make: the two may differ.
    old_env = api_env(DB + "_old")
    old_pool = sql_value("SELECT @@innodb_buffer_pool_size")
    if BUFFER_POOL_MB:
        with seed.connect() as conn, conn.cursor() as cur:
            cur.execute(f"SET GLOBAL innodb_buffer_pool_size = {BUFFER_POOL_MB * 2**20}")
    results: dict = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
    }
    results["settings"] = {
        "seconds": SECONDS,
        "warmup_seconds": WARMUP,
        "users": USERS,
        "items": ITEMS,
        "sessions": SESSIONS,
        "expired_sessions": EXPIRED,
        "scales": SCALES,
        "wrk": "2 threads, 16 connections",
        "log": "INFO, JSON access log to a file",
    }
    servers: list[procs.Server] = []
    try:
        print(f"seeding {USERS} users, {ITEMS} items, {SESSIONS} sessions into {DB} …", flush=True)
        results["dataset"] = dataset.build(env, work / "data", USERS, ITEMS, SESSIONS)
        if COMPARE:
            print(f"the same data into {old_env['DB_NAME']} for {COMPARE} …", flush=True)
            dataset.copy(DB, old_env, compare.command(COMPARE))
        results["import_s"] = import_time(env)
        results["startup"] = startup(env, work / "api.log")
        if COMPARE:
            results["old"] = compare.describe(COMPARE)
            results["old"]["import_s"] = import_time(old_env, compare.python(COMPARE))
            old_log = work / "old.log"
            results["old"]["startup"] = startup(old_env, old_log, compare.command(COMPARE))
        started = time.monotonic()
        subprocess.run(["fastapi-example", "migrate"], env=env, check=True, capture_output=True)
        results["migrate_s"] = round(time.monotonic() - started, 2)
        api = procs.api(env, API_PORT, work / "api.log")
        base = procs.baseline(env, BASELINE_PORT, work / "baseline.log")
        floor = procs.floor(env, FLOOR_PORT, work / "floor.log")
        servers += [api, base, floor]
        old = None
        if COMPARE:
            old = procs.api(
                old_env, OLD_PORT, work / "old.log", compare.command(COMPARE), "old API"
            )
            servers.append(old)
        ceiling_env = procs.wrk_env(env, work / "data", ITEMS, 2, "ceiling")
        # One request per route and server before any measurement: a route that fails
        # stops the run at once, with its answer (procs.RouteFailed).
        print("one request per route on the API, the baseline and the floor …", flush=True)
        procs.check(base, "ceiling.lua", ceiling_env, "GET /ceiling")
        for name, script, _ in ROUTES:
            for key, server in measured_on(name, api, base, floor, old):
                procs.check(server, script, procs.wrk_env(env, work / "data", ITEMS, 1, key), name)
        results["ceiling"] = procs.measured(
            base, "ceiling.lua", ceiling_env, SECONDS, WARMUP, route="GET /ceiling"
        )
        results["routes"] = {}
        for name, script, original in ROUTES:
            print(f"{name} …", flush=True)
            row = {"original_rps": original}
            for key, server in measured_on(name, api, base, floor, old):
                wenv = procs.wrk_env(env, work / "data", ITEMS, 2, key)
                row[key] = procs.measured(server, script, wenv, SECONDS, WARMUP, key, name)
            results["routes"][name] = row
            if name == "GET /items?name=<filter>":
                results["rss_mb_after_warmup"] = api.rss_mb()
                if old:
                    results["old"]["rss_mb_after_warmup"] = old.rss_mb()
        # Logins included: each Argon2 hash holds 19 MiB while it runs (security.hashing).
        results["rss_mb_after_routes"] = api.rss_mb()
        if old:
            results["old"]["rss_mb_after_routes"] = old.rss_mb()
            old.stop()  # the cleanup step measures this checkout's API alone
        wenv = procs.wrk_env(env, work / "data", ITEMS, 2, "profile")
        results["profiles"] = {
            "GET /auth/me": profile(api, "me.lua", wenv, 5),
            "GET /items?limit=20": profile(api, "items_page.lua", wenv, 5),
        }
        results["login_hash_ms"] = hash_time(env)
        print(f"token cleanup of {EXPIRED} expired sessions …", flush=True)
        with seed.connect(DB) as conn, conn.cursor() as cur:
            cur.execute("SELECT id FROM users WHERE username LIKE 'bench%%' ORDER BY id")
            user_ids = [row[0] for row in cur.fetchall()]
        wenv = procs.wrk_env(env, work / "data", ITEMS, 1, "cleanup")
        results["cleanup"] = cleanup(env, api, wenv, user_ids)
        for server in servers:
            server.stop()
        servers.clear()
        print(f"list latency at {SCALES} items …", flush=True)
        results["scale"] = scale.measure(api_env(DB + "_scale"), work, SCALES, API_PORT)
    finally:
        for server in servers:
            server.stop()
        if BUFFER_POOL_MB:
            with seed.connect() as conn, conn.cursor() as cur:
                cur.execute(f"SET GLOBAL innodb_buffer_pool_size = {old_pool}")
        if not os.environ.get("BENCH_KEEP_DB"):
            seed.drop_database(DB)
            seed.drop_database(DB + "_scale")
            seed.drop_database(DB + "_old")
            shutil.rmtree(work, ignore_errors=True)  # the servers' logs and wrk's data files
        else:
            print(f"kept: databases {DB}, {DB}_scale, {DB}_old; logs and data in {work}")
    results["machine"]["load_average_at_end"] = os.getloadavg()
    results["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    results["targets"] = evaluate(results)
    if COMPARE:
        results["comparison"] = compare.compare(results)
    out_dir.mkdir(exist_ok=True)
    name = f"bench-{results['started'].replace(':', '').replace('+0000', 'Z')}.json"
    (out_dir / name).write_text(json.dumps(results, indent=2) + "\n")
    print_table(results)
    if COMPARE:
        compare.print_table(results)
    print(f"\nwritten: benchmarks/results/{name}")


def measured_on(route: str, api, base, floor, old=None) -> list[tuple[str, procs.Server]]:
    """The servers a route is measured on, in turn: this API, the other checkout's, the
    baseline and, for the reads it serves, the floor."""
    servers = [("api", api), *([("old", old)] if old else []), ("baseline", base)]
    return [*servers, ("floor", floor)] if route in FLOOR_ROUTES else servers


def hash_time(env: dict) -> dict:
    """Argon2id as the API hashes: milliseconds per hash (median of 5) and its parameters."""
    code = (
        "import time, statistics; from fastapi_example.security import hash_password\n"
        "r = []\nfor _ in range(5):\n t = time.perf_counter(); h = hash_password('x' * 20, 'p');"
        " r.append(time.perf_counter() - t)\nprint(statistics.median(r) * 1000, h.split('$')[3])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    ms, params = out.stdout.split()
    return {"argon2id": params, "ms_per_hash": round(float(ms), 1)}


if __name__ == "__main__":
    main()
