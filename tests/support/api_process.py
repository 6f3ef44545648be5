"""The real API as a subprocess: `fastapi-example migrate`, then `serve`, stopped with SIGTERM."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.tools import REPO

COMMAND = [sys.executable, "-m", "fastapi_example"]
ADMIN = ("admin", "admin-subprocess-password")


def free_port() -> int:
    """A loopback port nothing listens on right now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def api_env(**settings: str) -> dict[str, str]:
    """This process' environment with the API's settings (free ports, test admin) on top."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DB_", "DATABASE_URL"))}
    env.update(
        HOST="127.0.0.1",
        PORT=str(free_port()),
        METRICS_PORT=str(free_port()),
        ADMIN_USERNAME=ADMIN[0],
        ADMIN_PASSWORD=ADMIN[1],
        LOG_FORMAT="json",
        LOG_LEVEL="INFO",
        GRACEFUL_SHUTDOWN_SECONDS="5",
        VERSIONS_CACHE_SECONDS="0",
    )
    env.update(settings)
    return env


def run_migrate(env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*COMMAND, "migrate"], env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout
    )


class ApiProcess:
    def __init__(self, env: dict[str, str], log_path: Path):
        self.env, self.log_path = env, log_path
        self.url = f"http://127.0.0.1:{env['PORT']}"
        self.metrics_url = f"http://127.0.0.1:{env['METRICS_PORT']}"
        self.process: subprocess.Popen | None = None

    def start(self, ready_timeout: float = 30) -> None:
        migrated = run_migrate(self.env)
        with self.log_path.open("a") as log:  # migrate's output is part of what was logged
            log.write(migrated.stdout + migrated.stderr)
        assert migrated.returncode == 0, migrated.stdout + migrated.stderr
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [*COMMAND, "serve"], env=self.env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"the API exited: {self.log_path.read_text()}"
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"the API was not ready in {ready_timeout}s: {self.log_path}")

    def stop(self, timeout: float = 15) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def client(self, **kwargs) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=kwargs.pop("timeout", 30), **kwargs)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_entries(self) -> list[dict]:
        """Every stdout line, parsed (a line that is not a JSON object fails the caller)."""
        return [json.loads(line) for line in self.log_text().splitlines() if line.strip()]


@contextmanager
def running_api(env: dict[str, str], log_path: Path) -> Iterator[ApiProcess]:
    api = ApiProcess(env, log_path)
    try:
        api.start()
        yield api
    finally:
        api.stop()


@contextmanager
def served(tmp_dir: Path, database: str | None = None, **settings: str) -> Iterator[ApiProcess]:
    """The API on a SQLite file in tmp_dir, or on the given MariaDB database."""
    from tests.support import mariadb

    db = (
        mariadb.settings_env(database)
        if database
        else {"DATABASE_URL": f"sqlite:///{tmp_dir}/api.db"}
    )
    with running_api(api_env(**db, **settings), tmp_dir / "api-stdout.log") as api:
        yield api


def login(client: httpx.Client, username: str, password: str) -> dict:
    response = client.post("/auth/token", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return response.json()


def bearer(tokens: dict) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def all_at_once(count: int, call) -> list:
    """Run call(i) in count threads released together by a barrier."""
    barrier = threading.Barrier(count)

    def run(i):
        barrier.wait(timeout=30)
        return call(i)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))
