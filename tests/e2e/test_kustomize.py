"""The plain manifests: `kubectl apply -k` of the dev overlay brings the app up and serves
the REST checks; the prod overlay applies server-side and, with the Secrets it expects
created first, rolls out. A wrapper kustomization per test only names the images this
cluster pulls, the namespace and an Ingress host of its own (what a user's would do)."""

import base64
import json
import os
from pathlib import Path

import yaml

from tests.e2e.release import Cluster, rest_checks
from tests.support.tools import REPO
from tests.support.waiting import wait_until

PROD_SECRETS = {
    "fastapi-example": {"admin-password": "prod-admin-pw-e2e", "password-pepper": "p" * 48},
    "fastapi-example-mysql": {"mysql-root-password": "root-e2e", "mysql-password": "app-e2e"},
}


def wrapper(
    cluster: Cluster, overlay: str, namespace: str, folder: Path, patches: tuple[dict, ...] = ()
) -> Path:
    """A kustomization over `overlay`: this cluster's images (under the names the overlay
    gives them), the namespace, an Ingress host of its own, and `patches`."""
    path = REPO / "k8s" / "overlays" / overlay
    renamed = {
        i["name"]: i.get("newName", i["name"])
        for i in yaml.safe_load((path / "kustomization.yaml").read_text()).get("images", [])
    }
    images = [
        {"name": renamed.get("fastapi-example", "fastapi-example"), **split(cluster.images.api)}
    ]
    if cluster.images.mysql:
        images.append({"name": renamed.get("mysql", "mysql"), **split(cluster.images.mysql)})
    host = [{"op": "replace", "path": "/spec/rules/0/host", "value": f"{namespace}.localhost"}]
    (folder / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "namespace": namespace,
                # kustomize takes a relative path only.
                "resources": [os.path.relpath(path, folder)],
                "images": images,
                "patches": [{"target": {"kind": "Ingress"}, "patch": json.dumps(host)}, *patches],
            }
        )
    )
    return folder


def cpu_request(kind: str, name: str, cpu: str, lists=("containers",)) -> dict:
    """A patch of the CPU request of the first container in each of the pod's lists named."""
    op = [
        {
            "op": "replace",
            "path": f"/spec/template/spec/{each}/0/resources/requests/cpu",
            "value": cpu,
        }
        for each in lists
    ]
    return {"target": {"kind": kind, "name": name}, "patch": json.dumps(op)}


def split(image: str) -> dict:
    name, tag = image.rsplit(":", 1)
    return {"newName": name, "newTag": tag}


def wait_rollout(cluster: Cluster, namespace: str, *workloads: str) -> None:
    for workload in workloads:
        done = cluster.kubectl(
            "rollout",
            "status",
            workload,
            "-n",
            namespace,
            "--timeout=300s",
            timeout=330,
            check=False,
        )
        if done.returncode != 0:
            pods = cluster.kubectl("get", "pods", "-n", namespace, "-o", "wide").stdout
            events = cluster.kubectl(
                "get", "events", "-n", namespace, "--sort-by=.lastTimestamp"
            ).stdout
            raise AssertionError(
                f"{workload} did not roll out:\n{done.stderr}\n{pods}\n{events[-3000:]}"
            )


def test_dev_overlay_comes_up_and_serves(cluster: Cluster, namespaces, tmp_path):
    namespace = namespaces("e2e-kustomize-dev")
    cluster.kubectl("apply", "-k", str(wrapper(cluster, "dev", namespace, tmp_path)))
    wait_rollout(
        cluster, namespace, "statefulset/fastapi-example-mysql", "deployment/fastapi-example"
    )
    # The dev overlay's generated admin password.
    rest_checks(f"{namespace}.localhost", "dev-admin-password")


def test_prod_overlay_applies_server_side_and_rolls_out_with_its_secrets(
    cluster: Cluster, namespaces, tmp_path
):
    # As written, into its own namespace: every object passes the API server's validation
    # and admission (Pod Security included) without being stored.
    created = "fastapi-example" not in cluster.namespaces()
    if created:
        cluster.kubectl("create", "namespace", "fastapi-example")
    try:
        done = cluster.kubectl(
            "apply", "-k", str(REPO / "k8s" / "overlays" / "prod"), "--dry-run=server"
        )
        assert "(server dry run)" in done.stdout and "Warning" not in done.stderr, done.stderr
    finally:
        if created:
            cluster.kubectl("delete", "namespace", "fastapi-example", "--wait=false")

    namespace = namespaces("e2e-kustomize-prod")
    # Its CPU requests (3 API replicas, a MySQL of one core) are a production node's; this
    # cluster's one node has two cores for everything.
    smaller = (
        # The migrate initContainer's request counts for the pod as much as the API's.
        cpu_request("Deployment", "fastapi-example", "100m", ("containers", "initContainers")),
        cpu_request("StatefulSet", "fastapi-example-mysql", "100m"),
    )
    applied = cluster.kubectl(
        "apply", "-k", str(wrapper(cluster, "prod", namespace, tmp_path, smaller)), check=False
    )
    assert applied.returncode == 0, applied.stderr
    # The pods start once the Secrets they read exist (created after the apply, as a user
    # following docs/kubernetes.md may do).
    for name, data in PROD_SECRETS.items():
        secret = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
        }
        cluster.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(secret))
    wait_rollout(
        cluster, namespace, "statefulset/fastapi-example-mysql", "deployment/fastapi-example"
    )
    # The Deployment leaves its replica count to the HPA, which raises it to its minimum.
    wait_until(
        lambda: (
            (
                cluster.apps.read_namespaced_deployment(
                    "fastapi-example", namespace
                ).status.ready_replicas
                or 0
            )
            >= 3
        ),
        "the HPA to scale the API to its minimum of 3",
        240,
        3,
    )
    rest_checks(f"{namespace}.localhost", PROD_SECRETS["fastapi-example"]["admin-password"])
