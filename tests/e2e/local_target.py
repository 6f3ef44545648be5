"""The `local` target: the chart's rendered pods run with podman on this machine.

tests/support/podman.py turns the render into `podman run` calls (env from the rendered
ConfigMaps and Secrets, security context as flags, MariaDB at 127.0.0.1:3306 standing in for
the chart's MySQL). What a cluster adds around the pods is played here, each piece small and
named for what it stands in for (there is no Kubernetes here):
- the ReplicaSet: `replicas` API pods, each running its initContainers (migrate) first;
- the kubelet's readiness probing (declared path, port, period and failure threshold);
- the Service: tests/e2e/service_proxy.py, routing to ready pods only;
- `helm upgrade`: a new render, then a rolling replacement (maxSurge 1, maxUnavailable 0);
- `helm test`: the chart's test pods run to completion; cluster DNS for the Service name is
  replaced by the proxy's URL in API_URL.
"""

import os
import subprocess
import threading

from tests.e2e.service_proxy import ServiceProxy
from tests.e2e.target import Target, wait_until
from tests.support import mariadb
from tests.support.helm import chart_values, find, pod_spec, render
from tests.support.podman import Instance, PodmanChart, podman
from tests.support.tools import REPO, missing, require_tool

IMAGE = os.environ.get("E2E_IMAGE", "localhost/fastapi-example:dev")


def deep_merge(base: dict, override: dict) -> dict:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def ensure_image() -> None:
    """Build the image the offline way (make image-local: podman, stand-in base, wheelhouse);
    layers are cached, so an unchanged tree rebuilds in seconds."""
    require_tool("podman", "apt-get install podman (see .ci/setup-podman.sh)")
    done = subprocess.run(
        ["make", "-s", "image-local", f"IMAGE={IMAGE}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if done.returncode != 0:
        missing(f"could not build {IMAGE} with `make image-local`:\n{done.stdout}{done.stderr}")


class Kubelet(threading.Thread):
    """Readiness probing of the running API pods, feeding the Service stand-in."""

    def __init__(self, proxy: ServiceProxy) -> None:
        super().__init__(daemon=True)
        self.proxy, self.stop_event = proxy, threading.Event()
        self.pods: dict[str, Instance] = {}
        self.failures: dict[str, int] = {}
        self.lock = threading.Lock()

    def watch(self, pod: Instance) -> None:
        with self.lock:
            self.pods[pod.name] = pod
            self.failures[pod.name] = 0

    def forget(self, pod: Instance) -> None:
        with self.lock:
            self.pods.pop(pod.name, None)

    def run(self) -> None:
        period = 1.0
        while not self.stop_event.wait(period):
            with self.lock:
                pods = list(self.pods.values())
            for pod in pods:
                spec = pod.container["readinessProbe"]
                period = spec.get("periodSeconds", 10)
                if pod.probe("readiness"):
                    self.failures[pod.name] = 0
                    self.proxy.set_ready(pod.name, True)
                else:
                    self.failures[pod.name] = self.failures.get(pod.name, 0) + 1
                    if self.failures[pod.name] >= spec.get("failureThreshold", 3):
                        self.proxy.set_ready(pod.name, False)


class LocalTarget(Target):
    name = "local"

    def __init__(self) -> None:
        self.proxy = ServiceProxy().start()
        self.base_url, self.headers = self.proxy.url, {}
        self.overrides: dict = {}
        self.objects = render()
        self.chart = PodmanChart(self.objects, image=IMAGE)
        self.kubelet = Kubelet(self.proxy)
        self.kubelet.start()
        self.pods: list[Instance] = []
        try:
            for _ in range(self.api_replicas()):
                self.pods.append(self._start_pod())
        except BaseException:
            self.close()  # no containers, database or threads left behind
            raise

    # -- pods ------------------------------------------------------------------------------
    def _start_pod(self) -> Instance:
        for init in self.chart.run_init_containers():
            assert init.returncode == 0, f"initContainer {init.name} failed:\n{init.logs}"
        pod = self.chart.start()
        assert pod.wait_for("startup"), f"{pod.name} never started:\n{pod.logs()}"
        self.proxy.add(pod.name, "127.0.0.1", pod.ports["http"])
        wait_until(lambda: pod.probe("readiness"), f"{pod.name} to be ready", timeout=60)
        self.proxy.set_ready(pod.name, True)
        self.kubelet.watch(pod)
        return pod

    def _delete_pod(self, pod: Instance) -> None:
        # Deletion takes the pod out of the Service's endpoints at once; then preStop, SIGTERM.
        self.kubelet.forget(pod)
        self.proxy.remove(pod.name)
        self.chart.stop(pod)
        podman("rm", "-f", pod.name, check=False)

    def _roll(self) -> None:
        """Replace every API pod by one of the current render, one at a time."""
        old, self.pods = self.pods, []
        for pod in old:
            self.pods.append(self._start_pod())
            self._delete_pod(pod)

    # -- the interface -----------------------------------------------------------------------
    def admin_credentials(self) -> tuple[str, str]:
        env = self.chart.resolve_env(pod_spec(find(self.objects, "Deployment"))["containers"][0])
        return env["ADMIN_USERNAME"], env["ADMIN_PASSWORD"]

    def api_replicas(self) -> int:
        return find(self.objects, "Deployment")["spec"]["replicas"]

    def wait_rollout(self) -> None:
        names = {p.name for p in self.pods}
        wait_until(
            lambda: len(names) == self.api_replicas() and set(self.proxy.ready_backends()) == names,
            "every API pod to be ready",
            timeout=120,
        )

    def run_chart_tests(self) -> None:
        tests = [
            o
            for o in self.objects
            if o["kind"] == "Pod"
            and o["metadata"].get("annotations", {}).get("helm.sh/hook") == "test"
        ]
        assert tests, "the chart has no test pods"
        for pod in tests:
            # Cluster DNS would resolve the Service name in API_URL; the proxy is the Service.
            done = self.chart.run_job(
                "Pod", pod["metadata"]["name"], env={"API_URL": self.proxy.url}
            )
            assert done.returncode == 0, f"helm test pod {done.name} failed:\n{done.logs}"

    def run_cleanup_job(self) -> str:
        done = self.chart.run_job()
        assert done.returncode == 0, f"cleanup job failed:\n{done.logs}"
        return done.logs

    def restart_api_instance(self) -> None:
        victim = self.pods.pop(0)
        self._delete_pod(victim)
        self.pods.append(self._start_pod())

    def restart_database(self) -> None:
        # The stand-in for deleting the MySQL pod: stop the MariaDB server, start it again.
        admin = require_tool("mariadb-admin", "apt-get install mariadb-client")
        daemon = require_tool("start-stop-daemon", "Debian's dpkg")
        server = ["--exec", "/usr/sbin/mariadbd"]
        subprocess.run([admin, "-uroot", "shutdown"], check=True, timeout=120)

        def stopped() -> bool:
            status = subprocess.run([daemon, "--status", *server], timeout=30)
            return status.returncode != 0

        wait_until(stopped, "the MariaDB server to exit", timeout=120)
        subprocess.run(
            [daemon, "--start", "--oknodo", "--background", *server], check=True, timeout=60
        )
        wait_until(mariadb.available, "MariaDB to answer again", timeout=120)

    def current_values(self) -> dict:
        return deep_merge(chart_values(), self.overrides)

    def upgrade(self, values: dict) -> None:
        self.overrides = deep_merge(self.overrides, values)
        self.objects = render(values=self.overrides)
        self.chart.rerender(self.objects)
        self._roll()
        self.wait_rollout()

    def sql(self, statement: str) -> list[list[str]]:
        with mariadb.connect(self.chart.database.name) as conn, conn.cursor() as cursor:
            cursor.execute(statement)
            return [[str(v) for v in row] for row in cursor.fetchall()]

    def close(self) -> None:
        self.kubelet.stop_event.set()
        self.proxy.stop()
        self.chart.close()


def start_local_target() -> LocalTarget:
    mariadb.require()
    ensure_image()
    return LocalTarget()
