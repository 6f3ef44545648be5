"""This checkout's API against another checkout's, side by side in one `make bench` run.

With BENCH_COMPARE=<another checkout> (with its own .venv, `make venv` there), run.py
serves that checkout's API too ("old": the same settings, data set, database and machine)
and measures every route on both, one right after the other. This module names the other
checkout, compares the two route by route and checks the targets of issue 24 (the API
through FastAPI's front door against the commit before it).
"""

import math
import subprocess
from pathlib import Path

READS = ["GET /roles", "GET /auth/me", "GET /items/{id}", "GET /items?limit=20"]
WRITES = ["POST /items", "PATCH /items/{id}", "POST /auth/token", "POST /auth/refresh"]
READS_GEOMEAN, READ_FLOOR, P99_LIMIT, WRITE_FLOOR = 0.8, 0.7, 1.3, 0.8


def command(tree: str) -> str:
    return str(Path(tree) / ".venv" / "bin" / "fastapi-example")


def python(tree: str) -> str:
    return str(Path(tree) / ".venv" / "bin" / "python")


def describe(tree: str) -> dict:
    def git(*args: str) -> str:
        run = subprocess.run(["git", "-C", tree, *args], capture_output=True, text=True)
        return run.stdout.strip()

    return {"tree": tree, "git_commit": git("rev-parse", "--short", "HEAD")}


def compare(results: dict) -> dict:
    """Per route: new/old throughput, p99 and CPU per request; and issue 24's targets."""
    routes = {}
    for route, row in results["routes"].items():
        new, old = row["api"], row["old"]
        routes[route] = {
            "rps_ratio": round(new["rps"] / max(old["rps"], 0.1), 3),
            "p99_ratio": round(new["p99_ms"] / max(old["p99_ms"], 0.001), 2),
            "cpu_us_per_request": [
                new["server_cpu_us_per_request"],
                old["server_cpu_us_per_request"],
            ],
        }
    reads = [routes[route]["rps_ratio"] for route in READS]
    geomean = round(math.exp(sum(map(math.log, reads)) / len(reads)), 3)
    targets = [
        _target("reads: geometric mean of new/old req/s", geomean, READS_GEOMEAN, ">="),
        *(_target(f"{r}: new/old req/s", routes[r]["rps_ratio"], READ_FLOOR, ">=") for r in READS),
        *(_target(f"{r}: p99 new/old", routes[r]["p99_ratio"], P99_LIMIT, "<=") for r in READS),
        *(
            _target(f"{r}: new/old req/s", routes[r]["rps_ratio"], WRITE_FLOOR, ">=")
            for r in WRITES
        ),
    ]
    return {"old": results["old"], "routes": routes, "reads_geomean": geomean, "targets": targets}


def _target(name: str, value: float, limit: float, way: str) -> dict:
    met = value >= limit if way == ">=" else value <= limit
    return {"target": f"{name} {way} {limit}", "value": value, "limit": limit, "met": met}


def print_table(results: dict) -> None:
    comparison = results["comparison"]
    new_commit = results["machine"]["git_commit"]
    old_commit = comparison["old"]["git_commit"]
    print(f"\nside by side: this checkout ({new_commit}) against {old_commit}, same run")
    header = (
        f"{'route':26} {'new req/s':>9} {'old req/s':>9} {'new/old':>7}"
        f" {'p99 new':>8} {'p99 old':>8} {'p99 x':>6} {'CPU us/req new/old':>19}"
    )
    print(header)
    print("-" * len(header))
    for route, row in results["routes"].items():
        new, old, ratios = row["api"], row["old"], comparison["routes"][route]
        cpu = "/".join(str(n) for n in ratios["cpu_us_per_request"])
        print(
            f"{route:26} {new['rps']:9.0f} {old['rps']:9.0f} {ratios['rps_ratio']:7.2f}"
            f" {new['p99_ms']:8.1f} {old['p99_ms']:8.1f} {ratios['p99_ratio']:6.2f} {cpu:>19}"
        )
    old = comparison["old"]
    for label, key in (("import (s)", "import_s"), ("RSS after reads (MB)", "rss_mb_after_warmup")):
        print(f"{label:26} new {results.get(key)}  old {old.get(key)}")
    startup = results.get("startup", {}).get("median_s"), old.get("startup", {}).get("median_s")
    print(f"{'start-up (s, median)':26} new {startup[0]}  old {startup[1]}")
    print("\nissue 24 targets:")
    for t in comparison["targets"]:
        print(f"  [{'met' if t['met'] else 'MISSED'}] {t['target']}: {t['value']}")
