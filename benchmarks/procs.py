"""Processes the benchmark drives: the API, the baseline, wrk, and what /proc says of them."""

import json
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
TICK = os.sysconf("SC_CLK_TCK")
KEPT = ", kept with BENCH_KEEP_DB=1"


def wait_ready(url: str, timeout: float = 30) -> float:
    """Seconds until `url` answers 200 (polled every 5 ms)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - http only
                if response.status == 200:
                    return time.monotonic() - started
        except OSError:
            pass
        time.sleep(0.005)
    raise RuntimeError(f"{url} not ready after {timeout} s")


class RouteFailed(RuntimeError):
    """A route answered other than 2xx, or wrk's connections failed: its numbers mean nothing."""


class Server:
    """A server process with its stdout in a log file; stopped with SIGTERM."""

    def __init__(
        self, name: str, args: list[str], env: dict, port: int, log: Path, ready_path: str
    ):
        self.name, self.port, self.log = name, port, log
        started = time.monotonic()
        self.process = subprocess.Popen(
            args, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, cwd=HERE
        )
        wait_ready(f"http://127.0.0.1:{port}{ready_path}")
        self.ready_s = time.monotonic() - started

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
        return 0.0

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def api(
    env: dict, port: int, log: Path, command: str = "fastapi-example", name: str = "API"
) -> Server:
    """The API as the image runs it: `fastapi-example serve` (migrate has run before).

    `command`: another checkout's fastapi-example, to serve its API beside this one."""
    # Its metrics listener on a port of its own, so two APIs can run at once.
    env = dict(env, PORT=str(port), METRICS_PORT=str(port + 1000))
    return Server(name, [command, "serve"], env, port, log, "/readyz")


def _uvicorn(app: str, port: int) -> list[str]:
    """An app of benchmarks/ under the API's uvicorn, one worker, no access log."""
    args = ["uvicorn", "--app-dir", str(HERE), app, "--port", str(port)]
    return [*args, "--no-access-log", "--log-level", "warning", "--no-server-header"]


def baseline(env: dict, port: int, log: Path) -> Server:
    return Server("baseline", _uvicorn("baseline:app", port), env, port, log, "/ceiling")


def floor(env: dict, port: int, log: Path) -> Server:
    """floor.py: the baseline's reads through the smallest FastAPI app."""
    return Server("FastAPI floor", _uvicorn("floor:app", port), env, port, log, "/roles")


def wrk_env(env: dict, data_dir: Path, items: int, threads: int, target: str) -> dict:
    return dict(
        env,
        BENCH_DATA=str(data_dir),
        BENCH_LUA=str(HERE / "wrk"),
        BENCH_ITEMS=str(items),
        BENCH_THREADS=str(threads),
        BENCH_TARGET=target,
    )


def wrk(
    script: str,
    url: str,
    env: dict,
    seconds: float,
    threads: int = 2,
    connections: int = 16,
    stop_when=None,
) -> dict:
    """One wrk run; with stop_when (a Popen), wrk is interrupted when that process ends.

    `sample` (only when the script kept one, see wrk/common.lua): the first answer that was
    not 2xx, {"status", "body"}; in a check run, the first answer.
    """
    args = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{int(seconds)}s", "--timeout", "10s"]
    args += ["-s", str(HERE / "wrk" / script), url]
    run = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if stop_when is not None:
        stop_when.wait()
        run.send_signal(signal.SIGINT)
    out = run.communicate(timeout=seconds + 60)[0].decode(errors="replace")
    lines = [line for line in out.splitlines() if line.startswith("BENCH ")]
    samples = [line[13:] for line in out.splitlines() if line.startswith("BENCH_SAMPLE ")]
    if not lines:
        raise RuntimeError(f"wrk {script} printed no summary:\n{out}")
    raw = json.loads(lines[-1][6:])
    seconds = raw["duration_us"] / 1e6
    result = {
        "requests": raw["requests"],
        "rps": round(raw["requests"] / seconds, 1),
        "p50_ms": raw["p50_us"] / 1000,
        "p90_ms": raw["p90_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "max_ms": raw["max_us"] / 1000,
        "mean_ms": round(raw["mean_us"] / 1000, 3),
        "non_2xx": raw["non_2xx"],
        "socket_errors": raw["socket_errors"],
    }
    if samples:
        result["sample"] = json.loads(samples[0])
    return result


def _answer(sample: dict | None) -> str:
    if sample is None:
        return "none kept"
    return f"{sample['status']} {sample['body']}"


def check(server: Server, script: str, env: dict, route: str) -> None:
    """One request as `script` sends it (one thread, one connection); RouteFailed unless 2xx.

    POST /auth/refresh takes its token from refresh-<target>-check.txt: one check per target.
    """
    target = env.get("BENCH_TARGET", "")
    env = dict(
        env,
        BENCH_CHECK="1",
        BENCH_THREADS="1",
        BENCH_TARGET=f"{target}-check",
        BENCH_REFRESH_FILE=f"refresh-{target}-check.txt",
    )
    result = wrk(script, server.url, env, 1, threads=1, connections=1)
    sample = result.get("sample")
    if sample is None or not 200 <= sample["status"] <= 299 or result["socket_errors"]:
        raise RouteFailed(
            f"{route} on the {server.name}: one request answered {_answer(sample)}"
            f" ({result['socket_errors']} socket errors; server log {server.log}{KEPT})"
        )


def _guard(result: dict, server: Server, what: str) -> dict:
    """The run's numbers, or RouteFailed when any answer was not 2xx or a socket failed, or
    nothing was answered (requests waiting on a lock the whole run count as no error)."""
    sample = result.pop("sample", None)
    if result["non_2xx"] or result["socket_errors"] or sample or not result["requests"]:
        raise RouteFailed(
            f"{what} on the {server.name}: {result['requests']} answers, {result['non_2xx']}"
            f" of them ≥ 400, {result['socket_errors']} socket errors; first answer not 2xx:"
            f" {_answer(sample)} (server log {server.log}{KEPT})"
        )
    return result


def measured(
    server: Server,
    script: str,
    env: dict,
    seconds: float,
    warmup: float,
    target: str = "",
    route: str = "",
) -> dict:
    """Warm up, then a wrk run with the server's CPU time per request; RouteFailed when any
    answer of either run was not 2xx or a socket failed (see check() for a first request)."""
    route = route or script
    if warmup:
        env_warm = dict(env, BENCH_REFRESH_FILE=f"refresh-{target}-warm.txt")
        _guard(wrk(script, server.url, env_warm, warmup), server, f"{route} (warm-up)")
    env = dict(env, BENCH_REFRESH_FILE=f"refresh-{target}.txt")
    cpu = server.cpu_seconds()
    result = _guard(wrk(script, server.url, env, seconds), server, route)
    used = server.cpu_seconds() - cpu
    result["server_cpu_us_per_request"] = round(used / max(result["requests"], 1) * 1e6)
    return result
