"""List latency against table size: first page, a deep page, a filter; and why (EXPLAIN)."""

import os
import subprocess
import time
from pathlib import Path

import procs
import seed

SECONDS = float(os.environ.get("BENCH_SCALE_SECONDS", "5"))
# Runs per query and size; the one with the lowest mean is kept. On a shared 2-core VM a
# neighbour's burst doubled one 5 s run's latency at whatever table size it happened to hit.
RUNS = 3
QUERIES = {
    "first page": ("items_page.lua", lambda n: "1"),
    "deep page (middle)": ("items_page.lua", lambda n: str(max(n // 20 // 2, 1))),
    "name filter": ("items_filter.lua", lambda n: "1"),
}
SQL = {
    "first page": "SELECT * FROM items ORDER BY id LIMIT 20",
    "deep page (middle)": "SELECT * FROM items ORDER BY id LIMIT 20 OFFSET {offset}",
    "name filter": "SELECT * FROM items WHERE lower(name) LIKE '%12345%' ORDER BY id LIMIT 20",
    "name filter count": "SELECT count(*) FROM items WHERE lower(name) LIKE '%12345%'",
    "COUNT(*) (the total before row_counts)": "SELECT count(*) FROM items",
}


def _explain(cur, sql: str) -> dict:
    cur.execute("EXPLAIN " + sql)
    names = [d[0] for d in cur.description]
    row = dict(zip(names, cur.fetchone(), strict=True))
    return {k: row[k] for k in ("type", "key", "rows", "Extra")}


def _timed(cur, sql: str) -> float:
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        cur.execute(sql)
        cur.fetchall()
        best = min(best, time.perf_counter() - started)
    return round(best * 1000, 2)


def measure(env: dict, work: Path, sizes: list[int], port: int) -> dict:
    database, data = env["DB_NAME"], work / "scale-data"
    seed.fresh_database(database)
    subprocess.run(["fastapi-example", "migrate"], env=env, check=True, capture_output=True)
    with seed.connect(database) as conn:
        user_ids = seed.seed_users(conn, 10, "not-a-hash")
        sessions = seed.seed_sessions(conn, user_ids, 10)
    data.mkdir(parents=True, exist_ok=True)
    (data / "tokens.txt").write_text("".join(f"{a}\n" for _, a, _ in sessions))
    results = {}
    for size in sorted(sizes):
        with seed.connect(database) as conn, conn.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM items")
            seed.seed_items(conn, size - cur.fetchone()[0], user_ids)
        started = time.monotonic()
        # A bulk load outside the API: migrate recounts row_counts (as after a restore).
        subprocess.run(["fastapi-example", "migrate"], env=env, check=True, capture_output=True)
        row = {"migrate_s": round(time.monotonic() - started, 2), "api": {}, "sql": {}}
        server = procs.api(env, port, work / "scale-api.log")
        try:
            for name, (script, page) in QUERIES.items():
                wenv = procs.wrk_env(env, data, size, 1, "scale")
                wenv["BENCH_PAGE"] = page(size)
                procs.wrk(script, server.url, wenv, 1, threads=1, connections=1)
                runs = [
                    procs.wrk(script, server.url, wenv, SECONDS, threads=1, connections=1)
                    for _ in range(RUNS)
                ]
                best = min(runs, key=lambda result: result["mean_ms"])
                row["api"][name] = {k: best[k] for k in ("mean_ms", "p50_ms", "p99_ms", "rps")}
                row["api"][name]["runs_mean_ms"] = [result["mean_ms"] for result in runs]
        finally:
            server.stop()
        with seed.connect(database) as conn, conn.cursor() as cur:
            for name, sql in SQL.items():
                sql = sql.format(offset=max(size // 2 - 10, 0))
                row["sql"][name] = {"ms": _timed(cur, sql), "explain": _explain(cur, sql)}
        results[str(size)] = row
    smallest, largest = str(min(sizes)), str(max(sizes))
    first = [results[s]["api"]["first page"]["mean_ms"] for s in (smallest, largest)]
    results["first_page_growth"] = round(first[1] / first[0], 2)
    return results
