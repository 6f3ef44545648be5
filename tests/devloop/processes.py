"""Long-running commands of the dev-loop tests: skaffold dev, tilt ci, kubectl port-forward.

Each runs in its own session with its output in a file, and is stopped by its own process
group id (SIGTERM, then SIGKILL after a grace period), never by name.
"""

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest


class Background:
    def __init__(self, args: list[str], log: Path, **popen) -> None:
        self.args, self.log_path = args, log
        self._log = log.open("wb")
        self.proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **popen,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait(self, timeout: float) -> int:
        """The exit code, or fail (the process is left to stop())."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{self.args[0]} still running after {timeout:.0f}s:\n{self.tail()}")

    def wait_for_log(self, pattern: str, timeout: float) -> re.Match:
        deadline = time.monotonic() + timeout
        while True:
            found = re.search(pattern, self.log())
            if found:
                return found
            if not self.alive():
                pytest.fail(f"{self.args[0]} exited ({self.proc.returncode}):\n{self.tail()}")
            if time.monotonic() > deadline:
                pytest.fail(f"no {pattern!r} from {self.args[0]} in {timeout:.0f}s:\n{self.tail()}")
            time.sleep(1)

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def stop(self, grace: float = 60) -> None:
        """SIGTERM to the process group (skaffold dev then deletes what it deployed), then
        SIGKILL if it outlives the grace period."""
        if self.alive():
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=30)
        self._log.close()


class PortForward:
    """`kubectl port-forward` to a Service on a free local port. uvicorn restarting inside the
    pod can end a port-forward, so get() starts a new one when the last has exited."""

    def __init__(self, kubectl: str, namespace: str, target: str, port: int, logs: Path) -> None:
        self.command = [kubectl, "port-forward", "-n", namespace, target, f":{port}"]
        self.logs, self.count, self.current = logs, 0, None
        self.url = ""

    def _start(self) -> None:
        if self.current is not None:
            self.current.stop(grace=5)
        self.count += 1
        self.current = Background(self.command, self.logs / f"port-forward-{self.count}.log")
        local = self.current.wait_for_log(r"Forwarding from 127\.0\.0\.1:(\d+)", timeout=60)
        self.url = f"http://127.0.0.1:{local.group(1)}"

    def get(self, path: str) -> httpx.Response | None:
        """One request; None when it could not connect."""
        if self.current is None or not self.current.alive():
            self._start()
        try:
            return httpx.get(self.url + path, timeout=5)
        except httpx.TransportError:
            return None

    def close(self) -> None:
        if self.current is not None:
            self.current.stop(grace=5)
