"""The `kind` target: the release that `make deploy` installed, driven through the kubernetes
client (pods, jobs, exec) and helm (test, upgrade, rollback)."""

import base64
import json
import os
import subprocess
import tempfile
import time

import yaml
from kubernetes import client, config
from kubernetes.stream import stream

from tests.e2e.target import Target, wait_until
from tests.support.tools import REPO, require_tool

CHART = REPO / "charts" / "fastapi-example"


class KindTarget(Target):
    name = "kind"
    # Traefik proxies with Go's ReverseProxy, which removes `Upgrade` (a hop-by-hop header)
    # from every response but a 101, so a 426 arrives through the Ingress without it.
    keeps_upgrade_header = False

    def __init__(self, namespace: str, release: str, base_url: str, host: str) -> None:
        config.load_kube_config()
        self.core, self.apps = client.CoreV1Api(), client.AppsV1Api()
        self.batch, self.custom = client.BatchV1Api(), client.CustomObjectsApi()
        self.namespace, self.release = namespace, release
        self.base_url, self.headers = base_url, {"Host": host}
        self.helm = require_tool("helm")

    @classmethod
    def from_env(cls) -> "KindTarget":
        return cls(
            namespace=os.environ.get("E2E_NAMESPACE", "fastapi-example"),
            release=os.environ.get("E2E_RELEASE", "fastapi-example"),
            # kind/cluster.yaml maps the Ingress controller to 127.0.0.1:80.
            base_url=os.environ.get("E2E_BASE_URL", "http://127.0.0.1"),
            host=os.environ.get("E2E_HOST", "fastapi-example.localhost"),
        )

    # -- the release's objects, found in its manifest (names follow the chart, not this file)
    def _manifest(self) -> list[dict]:
        out = self._helm("get", "manifest", self.release)
        return [doc for doc in yaml.safe_load_all(out) if doc]

    def _one(self, kind: str) -> dict:
        found = [o for o in self._manifest() if o["kind"] == kind]
        assert len(found) == 1, f"expected one {kind} in the release, found {len(found)}"
        return found[0]

    def _helm(self, *args: str, timeout: float = 600) -> str:
        cmd = [self.helm, *args, "--namespace", self.namespace]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        assert done.returncode == 0, f"{' '.join(cmd)}:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def _selector(self, workload: dict) -> str:
        labels = workload["spec"]["selector"]["matchLabels"]
        return ",".join(f"{k}={v}" for k, v in labels.items())

    def _api(self) -> dict:
        return self._one("Deployment")

    def admin_credentials(self) -> tuple[str, str]:
        values = self.current_values()
        secret_name = values["auth"]["existingSecret"] or self._secret_with("admin-password")
        secret = self.core.read_namespaced_secret(secret_name, self.namespace)
        password = base64.b64decode(secret.data["admin-password"]).decode()
        return values["auth"]["admin"]["username"], password

    def _secret_with(self, key: str) -> str:
        for obj in self._manifest():
            if obj["kind"] == "Secret" and key in (obj.get("data") or {}):
                return obj["metadata"]["name"]
        raise AssertionError(f"no Secret with key {key} in the release")

    def api_replicas(self) -> int:
        name = self._api()["metadata"]["name"]
        return self.apps.read_namespaced_deployment(name, self.namespace).spec.replicas

    def wait_rollout(self) -> None:
        name = self._api()["metadata"]["name"]

        def done() -> bool:
            d = self.apps.read_namespaced_deployment(name, self.namespace)
            s = d.status
            return (
                (s.observed_generation or 0) >= d.metadata.generation
                and (s.updated_replicas or 0) == d.spec.replicas
                and (s.available_replicas or 0) == d.spec.replicas
                and (s.replicas or 0) == d.spec.replicas  # old pods gone
            )

        wait_until(done, f"deployment {name} to roll out", timeout=300, every=2)

    def run_chart_tests(self) -> None:
        self._helm("test", self.release, "--logs", "--timeout", "5m")

    def run_cleanup_job(self) -> str:
        cron = self.batch.read_namespaced_cron_job(
            self._one("CronJob")["metadata"]["name"], self.namespace
        )
        name = f"{cron.metadata.name[:40]}-now-{int(time.time())}"
        job = client.V1Job(
            metadata=client.V1ObjectMeta(
                name=name,
                labels=cron.spec.job_template.metadata.labels
                if cron.spec.job_template.metadata
                else None,
                # What `kubectl create job --from=cronjob/…` does: owned by the CronJob.
                owner_references=[
                    client.V1OwnerReference(
                        api_version="batch/v1",
                        kind="CronJob",
                        name=cron.metadata.name,
                        uid=cron.metadata.uid,
                        controller=False,
                    )
                ],
            ),
            spec=cron.spec.job_template.spec,
        )
        self.batch.create_namespaced_job(self.namespace, job)

        def finished() -> bool:
            s = self.batch.read_namespaced_job(name, self.namespace).status
            return bool(s.succeeded or s.failed)

        wait_until(finished, f"job {name}", timeout=300, every=2)
        pods = self.core.list_namespaced_pod(self.namespace, label_selector=f"job-name={name}")
        logs = "".join(
            self.core.read_namespaced_pod_log(p.metadata.name, self.namespace) for p in pods.items
        )
        status = self.batch.read_namespaced_job(name, self.namespace).status
        assert status.succeeded, f"cleanup job {name} failed:\n{logs}"
        return logs

    def _ready_pods(self, workload: dict) -> list:
        pods = self.core.list_namespaced_pod(
            self.namespace, label_selector=self._selector(workload)
        ).items
        return [
            p
            for p in pods
            if p.metadata.deletion_timestamp is None
            and any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])
        ]

    def restart_api_instance(self) -> None:
        pods = self._ready_pods(self._api())
        assert len(pods) >= 2, "need two ready API pods"
        victim = pods[0].metadata.name
        self.core.delete_namespaced_pod(victim, self.namespace)
        wait_until(
            lambda: (
                victim
                not in [
                    p.metadata.name
                    for p in self.core.list_namespaced_pod(
                        self.namespace, label_selector=self._selector(self._api())
                    ).items
                ]
            ),
            f"pod {victim} to terminate",
            timeout=120,
            every=1,
        )
        self.wait_rollout()

    def _mysql_pod(self) -> str:
        pods = self.core.list_namespaced_pod(
            self.namespace, label_selector=self._selector(self._one("StatefulSet"))
        ).items
        assert pods, "no MySQL pod"
        return pods[0].metadata.name

    def restart_database(self) -> None:
        sts = self._one("StatefulSet")
        old = self._mysql_pod()
        uid = self.core.read_namespaced_pod(old, self.namespace).metadata.uid
        self.core.delete_namespaced_pod(old, self.namespace)

        def back() -> bool:
            pods = self._ready_pods(sts)
            return bool(pods) and pods[0].metadata.uid != uid

        wait_until(back, "the MySQL pod to come back ready", timeout=300, every=2)

    def current_values(self) -> dict:
        return json.loads(self._helm("get", "values", self.release, "--all", "--output", "json"))

    def upgrade(self, values: dict) -> None:
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
            yaml.safe_dump(values, f)
            f.flush()
            self._helm(
                "upgrade",
                self.release,
                str(CHART),
                "--reuse-values",
                "-f",
                f.name,
                "--wait",
                "--timeout",
                "5m",
            )
        self.wait_rollout()

    def rollback(self) -> None:
        self._helm("rollback", self.release, "--wait", "--timeout", "5m")
        self.wait_rollout()

    def sql(self, statement: str) -> list[list[str]]:
        # The mysql client inside the MySQL pod, as the app's user (env of that container).
        command = [
            "sh",
            "-c",
            'mysql -N -B -u"$MYSQL_USER" -p"$MYSQL_PASSWORD" "$MYSQL_DATABASE" -e "$0"',
            statement,
        ]
        out = stream(
            self.core.connect_get_namespaced_pod_exec,
            self._mysql_pod(),
            self.namespace,
            command=command,
            stderr=True,
            stdin=False,
            stdout=True,
            tty=False,
        )
        lines = [line for line in out.splitlines() if line and "Using a password" not in line]
        return [line.split("\t") for line in lines]

    def cluster_objects(self, kind: str, label: str = "") -> list[str]:
        selector = label or f"app.kubernetes.io/instance={self.release}"
        if kind == "Ingress":
            items = (
                client.NetworkingV1Api()
                .list_namespaced_ingress(self.namespace, label_selector=selector)
                .items
            )
            return [i.metadata.name for i in items]
        if kind == "ConfigMap":
            items = self.core.list_config_map_for_all_namespaces(label_selector=selector).items
            return [i.metadata.name for i in items]
        plural = {"ServiceMonitor": "servicemonitors", "PrometheusRule": "prometheusrules"}[kind]
        found = self.custom.list_namespaced_custom_object(
            "monitoring.coreos.com", "v1", self.namespace, plural, label_selector=selector
        )
        return [i["metadata"]["name"] for i in found["items"]]

    def has_crd(self, name: str) -> bool:
        try:
            client.ApiextensionsV1Api().read_custom_resource_definition(name)
        except client.ApiException as error:
            if error.status == 404:
                return False
            raise
        return True
