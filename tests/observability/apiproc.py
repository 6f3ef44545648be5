"""The real API (`fastapi-example migrate` then `serve`) as subprocesses on loopback ports."""

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.observability.promserver import free_port
from tests.support.tools import REPO, missing

ADMIN = ("admin", "obs-admin-password-1")


def cli() -> str:
    path = Path(sys.executable).parent / "fastapi-example"
    if not path.exists():
        missing(f"{path} not found: run `make venv` (the API package is installed there)")
    return str(path)


class Api:
    """One API process ("pod"): its API and metrics ports."""

    def __init__(self, env: dict[str, str], log: Path):
        self.port, self.metrics_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.metrics = f"127.0.0.1:{self.metrics_port}"
        env = env | {"PORT": str(self.port), "METRICS_PORT": str(self.metrics_port)}
        self.log = log.open("w")
        self.proc = subprocess.Popen(
            [cli(), "serve"], env=env, cwd=REPO, stdout=self.log, stderr=subprocess.STDOUT
        )
        for _ in range(300):  # up to ~30 s to start
            if self.proc.poll() is not None:
                raise RuntimeError(f"API exited: {log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"API did not start: {log.read_text()[-3000:]}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def api_env(db: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DB_", "SECRETS_DIR"))}
    return env | {
        "DATABASE_URL": f"sqlite:///{db}",
        "HOST": "127.0.0.1",
        "ADMIN_USERNAME": ADMIN[0],
        "ADMIN_PASSWORD": ADMIN[1],
        "ENVIRONMENT": "development",
        "LOG_FORMAT": "json",
    }


def migrate(env: dict[str, str], log: Path) -> None:
    done = subprocess.run(
        [cli(), "migrate"], env=env, cwd=REPO, capture_output=True, text=True, timeout=120
    )
    log.write_text(done.stdout + done.stderr)
    assert done.returncode == 0, f"migrate failed:\n{done.stderr[-3000:]}"
