"""The cluster of the current kubeconfig and the chart's releases on it, driven through the
kubernetes client and helm: what the end-to-end scenarios do to a deployment."""

import base64
import contextlib
import json
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml
from kubernetes import client, config

from tests.support.api_process import login
from tests.support.tools import REPO, require_tool
from tests.support.waiting import wait_until

CHART = REPO / "charts" / "fastapi-example"


def rest_checks(host: str, password: str, username: str = "admin") -> None:
    """The REST checks through the Ingress for a release or manifests serving `host`: login,
    /auth/me, an item created, read, refused twice (409) and deleted, 426, 401."""
    with httpx.Client(base_url="http://127.0.0.1", headers={"Host": host}, timeout=30) as c:
        wait_until(lambda: c.get("/healthz").status_code == 200, "the Ingress to route", 60)
        token = login(c, username, password)["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        assert c.get("/auth/me", headers=auth).json()["username"] == username
        name = f"rest-{uuid.uuid4().hex[:8]}"
        created = c.post("/items", headers=auth, json={"name": name})
        assert created.status_code == 201, created.text
        item = created.json()["id"]
        assert c.get(f"/items/{item}", headers=auth).json()["name"] == name
        assert c.post("/items", headers=auth, json={"name": name}).status_code == 409
        assert c.delete(f"/items/{item}", headers=auth).status_code == 204
        assert c.get("/items", headers={**auth, "X-Version": "0.1"}).status_code == 426
        assert c.get("/auth/me").status_code == 401


@dataclass(frozen=True)
class Images:
    """What the suite installs: the API image as the cluster pulls it, the MySQL image ("" for
    the chart's default) and a registry for the packaged chart ("": install from the folder)."""

    api: str
    mysql: str = ""
    chart_registry: str = ""

    def values(self) -> dict:
        """The image overrides, and nothing else."""
        repository, tag = self.api.rsplit(":", 1)
        # No registry in front of the name: the image is this cluster's (kind loads it by
        # name), not the chart's published default.
        values: dict = {"image": {"registry": "", "repository": repository, "tag": tag}}
        if self.mysql:
            repository, tag = self.mysql.rsplit(":", 1)
            values["mysql"] = {"image": {"repository": repository, "tag": tag}}
        return values


class Cluster:
    def __init__(self, images: Images) -> None:
        config.load_kube_config()
        self.core, self.apps = client.CoreV1Api(), client.AppsV1Api()
        self.batch, self.custom = client.BatchV1Api(), client.CustomObjectsApi()
        self.networking = client.NetworkingV1Api()
        self.images = images
        self.helm_path = require_tool("helm", "make tools")
        self.kubectl_path = require_tool("kubectl", "make tools")

    def helm(self, *args: str, timeout: float = 600, check: bool = True):
        done = subprocess.run(
            [self.helm_path, *args], capture_output=True, text=True, timeout=timeout
        )
        if check:
            assert done.returncode == 0, f"helm {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done

    def kubectl(self, *args: str, input: str | None = None, check: bool = True, timeout=300):
        done = subprocess.run(
            [self.kubectl_path, *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check:
            assert done.returncode == 0, f"kubectl {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done

    def create_namespace(self, prefix: str = "e2e") -> str:
        """A new namespace where Pod Security `restricted` is enforced (and warned about)."""
        name = f"{prefix}-{uuid.uuid4().hex[:6]}"
        level = {
            f"pod-security.kubernetes.io/{mode}": "restricted"
            for mode in ("enforce", "warn", "audit")
        }
        self.core.create_namespace(
            client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels=level))
        )
        return name

    def delete_namespace(self, name: str) -> None:
        self.core.delete_namespace(name)

    def wait_namespace_gone(self, name: str) -> None:
        wait_until(lambda: name not in self.namespaces(), f"namespace {name} to go", 300, 2)

    def namespaces(self) -> list[str]:
        return [n.metadata.name for n in self.core.list_namespace().items]

    def ingress_hosts(self) -> dict[str, str]:
        """Every Ingress rule's host in the cluster, and the namespace of its Ingress."""
        found = self.networking.list_ingress_for_all_namespaces().items
        return {r.host: i.metadata.namespace for i in found for r in i.spec.rules or () if r.host}

    def chart_source(self) -> tuple[str, list[str]]:
        """The chart as `helm install` takes it: packaged and pushed to the registry as an OCI
        artifact when there is one (as users of a published chart install it), else the folder."""
        if not self.images.chart_registry:
            return str(CHART), []
        if not hasattr(self, "_oci"):
            with tempfile.TemporaryDirectory() as folder:
                self.helm("package", str(CHART), "--destination", folder)
                (package,) = list(Path(folder).glob("*.tgz"))
                pushed = self.helm(
                    "push",
                    str(package),
                    f"oci://{self.images.chart_registry}/charts",
                    "--plain-http",
                )
            version = package.name.removeprefix("fastapi-example-").removesuffix(".tgz")
            assert "Digest:" in pushed.stdout + pushed.stderr
            self._oci = (
                f"oci://{self.images.chart_registry}/charts/fastapi-example",
                ["--version", version, "--plain-http"],
            )
        return self._oci

    def install(
        self,
        namespace: str,
        values: dict | None = None,
        name: str = "e2e",
        wait: bool = True,
        extra: tuple[str, ...] = (),
        own_host: bool = True,
    ) -> "Release":
        """`helm install` with the image overrides and `values` on top; the helm output is kept
        on the release (Pod Security warnings would be in it). Unless `own_host` is false, its
        Ingress serves <namespace>.localhost: two releases serving one host would share it."""
        source, flags = self.chart_source()
        base = self.images.values()
        if own_host:
            path = {"path": "/", "pathType": "Prefix"}
            base["ingress"] = {"hosts": [{"host": f"{namespace}.localhost", "paths": [path]}]}
        with (
            tempfile.NamedTemporaryFile("w", suffix=".yaml") as images,
            tempfile.NamedTemporaryFile("w", suffix=".yaml") as more,
        ):
            yaml.safe_dump(base, images)
            yaml.safe_dump(values or {}, more)
            images.flush()
            more.flush()
            done = self.helm(
                "install",
                name,
                source,
                *flags,
                "--namespace",
                namespace,
                "-f",
                images.name,
                "-f",
                more.name,
                *(("--wait", "--timeout", "5m") if wait else ()),
                *extra,
            )
        release = Release(self, namespace, name)
        release.install_output = done.stdout + done.stderr
        return release


class Release:
    def __init__(self, cluster: Cluster, namespace: str, name: str) -> None:
        self.cluster, self.namespace, self.name = cluster, namespace, name
        self.core, self.apps, self.batch = cluster.core, cluster.apps, cluster.batch
        self.install_output = ""

    def helm(self, *args: str, **kwargs):
        return self.cluster.helm(*args, "--namespace", self.namespace, **kwargs)

    # -- the release's objects, found in its manifest (names follow the chart, not this file)
    def manifest(self) -> list[dict]:
        out = self.helm("get", "manifest", self.name).stdout
        return [doc for doc in yaml.safe_load_all(out) if doc]

    def one(self, kind: str) -> dict:
        found = [o for o in self.manifest() if o["kind"] == kind]
        assert len(found) == 1, f"expected one {kind} in the release, found {len(found)}"
        return found[0]

    def service(self, component: str) -> dict:
        """The release's Service of a component (api, mysql), not a headless one."""
        (found,) = [
            o
            for o in self.manifest()
            if o["kind"] == "Service"
            and o["spec"].get("clusterIP") != "None"
            and o["metadata"]["labels"].get("app.kubernetes.io/component") == component
        ]
        return found

    def selector(self, workload: dict) -> str:
        labels = workload["spec"]["selector"]["matchLabels"]
        return ",".join(f"{k}={v}" for k, v in labels.items())

    def values(self) -> dict:
        return json.loads(self.helm("get", "values", self.name, "--all", "-o", "json").stdout)

    def secret(self, name: str) -> dict[str, str]:
        data = self.core.read_namespaced_secret(name, self.namespace).data or {}
        return {k: base64.b64decode(v).decode() for k, v in data.items()}

    def generated_secrets(self) -> dict[str, dict[str, str]]:
        """Every Secret of the release, by name, decoded."""
        names = [o["metadata"]["name"] for o in self.manifest() if o["kind"] == "Secret"]
        return {name: self.secret(name) for name in names}

    def admin_credentials(self) -> tuple[str, str]:
        values = self.values()
        name = values["auth"]["existingSecret"] or next(
            n for n, data in self.generated_secrets().items() if "admin-password" in data
        )
        return values["auth"]["admin"]["username"], self.secret(name)["admin-password"]

    def ingress_host(self) -> str:
        return self.one("Ingress")["spec"]["rules"][0]["host"]

    # -- rollouts
    def api(self) -> dict:
        return self.one("Deployment")

    def api_replicas(self) -> int:
        return self.apps.read_namespaced_deployment(
            self.api()["metadata"]["name"], self.namespace
        ).spec.replicas

    def wait_rollout(self, timeout: float = 300) -> None:
        name = self.api()["metadata"]["name"]

        def done() -> bool:
            d = self.apps.read_namespaced_deployment(name, self.namespace)
            s = d.status
            return (
                (s.observed_generation or 0) >= d.metadata.generation
                and (s.updated_replicas or 0) == d.spec.replicas
                and (s.available_replicas or 0) == d.spec.replicas
                and (s.replicas or 0) == d.spec.replicas  # old pods gone
            )

        wait_until(done, f"deployment {name} to roll out", timeout, every=2)

    def pods(self, workload: dict, ready_only: bool = False) -> list:
        pods = self.core.list_namespaced_pod(
            self.namespace, label_selector=self.selector(workload)
        ).items
        pods = [p for p in pods if p.metadata.deletion_timestamp is None]
        if ready_only:
            pods = [
                p
                for p in pods
                if any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])
            ]
        return pods

    def logs(self, pod: str, container: str | None = None) -> str:
        # kubectl, not the client library: it returns JSON log lines re-serialised as Python.
        where = ["-c", container] if container else []
        return self.cluster.kubectl("logs", pod, "-n", self.namespace, *where).stdout

    @contextlib.contextmanager
    def port_forward(self, pod: str, *ports: int):
        """`kubectl port-forward` to the pod: yields {pod port: local port on 127.0.0.1}."""
        command = [self.cluster.kubectl_path, "port-forward", "-n", self.namespace, f"pod/{pod}"]
        forward = subprocess.Popen(
            [*command, *(f":{p}" for p in ports)], stdout=subprocess.PIPE, text=True
        )
        try:
            local = {}
            while len(local) < len(ports):  # "Forwarding from 127.0.0.1:41234 -> 8080"
                line = forward.stdout.readline()
                assert line, "kubectl port-forward ended"
                if line.startswith("Forwarding from 127.0.0.1:"):
                    here, there = line.split(":", 1)[1].split(" -> ")
                    local[int(there)] = int(here)
            yield local
        finally:
            forward.terminate()
            forward.wait(10)

    def upgrade(self, values: dict, wait: bool = True) -> str:
        """`helm upgrade --reuse-values` with `values` on top; waits for the rollout."""
        source, flags = self.cluster.chart_source()
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
            yaml.safe_dump(values, f)
            f.flush()
            done = self.helm(
                "upgrade",
                self.name,
                source,
                *flags,
                "--reuse-values",
                "-f",
                f.name,
                *(("--wait", "--timeout", "5m") if wait else ()),
            )
        if wait:
            self.wait_rollout()
        return done.stdout

    def rollback(self) -> None:
        self.helm("rollback", self.name, "--wait", "--timeout", "5m")
        self.wait_rollout()

    def uninstall(self) -> None:
        self.helm("uninstall", self.name, "--wait", "--timeout", "5m")

    # -- the database
    def mysql_pod(self) -> str:
        pods = self.pods(self.one("StatefulSet"))
        assert pods, "no MySQL pod"
        return pods[0].metadata.name

    def exec(self, pod: str, command: list[str], container: str | None = None) -> str:
        """stdout of `command` in the pod (through kubectl: the client library's exec swaps
        the API client's transport while it runs, which other threads' calls would meet)."""
        where = ["-c", container] if container else []
        return self.cluster.kubectl(
            "exec", pod, "-n", self.namespace, *where, "--", *command
        ).stdout

    def sql(self, statement: str) -> list[list[str]]:
        """One statement with the client in the MySQL pod, as the app's user."""
        client = 'MYSQL_PWD="$MYSQL_PASSWORD" mysql -N -B -u"$MYSQL_USER" "$MYSQL_DATABASE"'
        command = ["sh", "-c", client + ' -e "$0"', statement]
        lines = [line for line in self.exec(self.mysql_pod(), command).splitlines() if line]
        return [line.split("\t") for line in lines]

    def restart_database(self) -> None:
        """Delete the MySQL pod; return once the StatefulSet's new one is ready."""
        old = self.mysql_pod()
        uid = self.core.read_namespaced_pod(old, self.namespace).metadata.uid
        self.core.delete_namespaced_pod(old, self.namespace)
        statefulset = self.one("StatefulSet")
        wait_until(
            lambda: [p for p in self.pods(statefulset, ready_only=True) if p.metadata.uid != uid],
            "the MySQL pod to come back ready",
            timeout=300,
            every=2,
        )

    def delete_api_pod(self) -> str:
        """Delete one ready API pod; return its name once it is gone and the rollout is whole."""
        pods = self.pods(self.api(), ready_only=True)
        assert len(pods) >= 2, "need two ready API pods"
        victim = pods[0].metadata.name
        self.core.delete_namespaced_pod(victim, self.namespace)
        wait_until(
            lambda: (
                victim
                not in [
                    p.metadata.name
                    for p in self.core.list_namespaced_pod(
                        self.namespace, label_selector=self.selector(self.api())
                    ).items
                ]
            ),
            f"pod {victim} to terminate",
            timeout=120,
            every=1,
        )
        self.wait_rollout()
        return victim

    def run_cleanup_job(self, env: dict[str, str] | None = None, outcome: str = "Complete") -> str:
        """Create a Job from the CronJob, as `kubectl create job --from=cronjob/…` does (`env`
        overrides the container's, and a Job meant to fail is not retried); wait for its
        `outcome` (Complete or Failed) and return its last pod's logs."""
        cron = self.one("CronJob")["metadata"]["name"]
        job = f"{cron[:40]}-now-{uuid.uuid4().hex[:5]}"
        made = json.loads(
            self.cluster.kubectl(
                "create",
                "job",
                job,
                f"--from=cronjob/{cron}",
                "-n",
                self.namespace,
                "--dry-run=client",
                "-o",
                "json",
            ).stdout
        )
        if env:
            (container,) = made["spec"]["template"]["spec"]["containers"]
            kept = [e for e in container.get("env", []) if e["name"] not in env]
            container["env"] = kept + [{"name": k, "value": v} for k, v in env.items()]
        if outcome == "Failed":
            made["spec"]["backoffLimit"] = 0
        self.cluster.kubectl("create", "-n", self.namespace, "-f", "-", input=json.dumps(made))

        def ended():
            # A pod that fails is retried (backoffLimit): the Job's own condition tells.
            conditions = self.batch.read_namespaced_job(job, self.namespace).status.conditions
            return {c.type for c in conditions or () if c.status == "True"} & {"Complete", "Failed"}

        seen = wait_until(ended, f"job {job}", timeout=300, every=2)
        pods = self.core.list_namespaced_pod(self.namespace, label_selector=f"job-name={job}")
        logs = {
            pod.metadata.name: self.logs(pod.metadata.name)
            for pod in sorted(pods.items, key=lambda p: p.metadata.creation_timestamp)
        }
        assert seen == {outcome}, logs
        return logs.popitem()[1]

    def run_chart_tests(self) -> str:
        return self.helm("test", self.name, "--logs", "--timeout", "5m").stdout
