"""A real Prometheus (Debian's package) on loopback, with a temporary config and storage."""

import subprocess
import time
from pathlib import Path

import httpx
import yaml

from tests.support.api_process import free_port


def service_monitor_job(
    namespace: str, service: str, targets: dict[str, str], interval: str = "1s"
) -> dict:
    """The scrape job prometheus-operator generates for a ServiceMonitor endpoint (port
    `metrics`), fed from static targets instead of Kubernetes service discovery: each target
    carries the __meta_kubernetes_* labels discovery would, and the relabelings turn them into
    namespace, service, pod, container, job (= the Service's name) and endpoint (= port name)."""
    static = [
        {
            "targets": [address],
            "labels": {
                "__meta_kubernetes_namespace": namespace,
                "__meta_kubernetes_service_name": service,
                "__meta_kubernetes_pod_name": pod,
                "__meta_kubernetes_pod_container_name": "api",
                "__meta_kubernetes_endpoint_port_name": "metrics",
            },
        }
        for pod, address in targets.items()
    ]

    def copy(source: str, target: str) -> dict:
        return {"source_labels": [source], "target_label": target}

    return {
        "job_name": f"serviceMonitor/{namespace}/{service}/0",
        "scrape_interval": interval,
        "scrape_timeout": interval,
        "metrics_path": "/metrics",
        "static_configs": static,
        "relabel_configs": [
            copy("__meta_kubernetes_namespace", "namespace"),
            copy("__meta_kubernetes_service_name", "service"),
            copy("__meta_kubernetes_pod_name", "pod"),
            copy("__meta_kubernetes_pod_container_name", "container"),
            copy("__meta_kubernetes_service_name", "job"),
            {"target_label": "endpoint", "replacement": "metrics"},
        ],
    }


class Prometheus:
    def __init__(
        self,
        binary: str,
        workdir: Path,
        scrape_configs: list[dict],
        storage: Path,
        rule_files: list[Path] = (),
    ):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = workdir / "prometheus.yml"
        settings = {
            "global": {"evaluation_interval": "1s"},
            "rule_files": [str(f) for f in rule_files],
            "scrape_configs": scrape_configs,
        }
        config.write_text(yaml.safe_dump(settings))
        self.log = (workdir / "prometheus.log").open("w")
        self.proc = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={storage}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--storage.tsdb.retention.time=30d",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.client = httpx.Client(base_url=self.url, timeout=10)
        self._wait_ready(workdir / "prometheus.log")

    def _wait_ready(self, log: Path) -> None:
        for _ in range(300):  # up to ~30 s for the TSDB to open
            if self.proc.poll() is not None:
                raise RuntimeError(f"prometheus exited:\n{log.read_text()[-3000:]}")
            try:
                if self.client.get("/-/ready").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"prometheus not ready:\n{log.read_text()[-3000:]}")

    def api(self, path: str, **params) -> dict:
        r = self.client.get(f"/api/v1/{path}", params=params)
        body = r.json()
        if body.get("status") != "success":
            raise AssertionError(f"{path} {params}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def instant(self, expr: str, at: float) -> list[dict]:
        return self.api("query", query=expr, time=at)["result"]

    def range(self, expr: str, start: float, end: float, step: float) -> list[dict]:
        return self.api("query_range", query=expr, start=start, end=end, step=step)["result"]

    def label_values(self, label: str, match: str | None, start: float, end: float) -> list[str]:
        params = {"start": start, "end": end}
        if match:
            params["match[]"] = match
        return sorted(self.api(f"label/{label}/values", **params))

    def stop(self) -> None:
        self.client.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
