"""Fixtures of the dev-loop tests: skaffold and Tilt (`make devloop-tools`) against the cluster
of `make cluster-up`, each test in a namespace of its own (`devloop-*`, Pod Security
`restricted` enforced) that is deleted afterwards, working in a private copy of the repo.

Not part of `make test` (pyproject's norecursedirs): `make test-devloop` runs them, see
docs/kubernetes.md for why and what they cost.
"""

import uuid
from pathlib import Path

import httpx
import pytest
import yaml

from tests.cluster.conftest import Kubectl
from tests.devloop.processes import PortForward
from tests.devloop.workspace import copy_repository, tool_environment
from tests.support.tools import missing, require_tool

# These tests push to this cluster's registry; another cluster would not pull from it.
CONTEXT = "kubernetes-admin@fastapi-example"
REGISTRY = "localhost:5000"


@pytest.fixture(scope="session")
def kubectl() -> Kubectl:
    k = Kubectl(require_tool("kubectl", "make tools"))
    if k.run("get", "--raw", "/readyz", check=False, timeout=15).returncode != 0:
        missing("no Kubernetes cluster answers on the current kubeconfig: make cluster-up")
    context = k("config", "current-context").strip()
    if context != CONTEXT:
        missing(f"the current kube context is {context!r}, not {CONTEXT!r} (make cluster-up)")
    return k


@pytest.fixture
def namespace(kubectl: Kubectl, request) -> str:
    test = request.node.name.removeprefix("test_").replace("_", "-")[:30].strip("-")
    name = f"devloop-{test}-{uuid.uuid4().hex[:5]}"
    labels = {
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/warn": "restricted",
    }
    kubectl.apply(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}
    )
    yield name
    # Everything the tools made goes with the namespace (the MySQL volume's claim too).
    kubectl("delete", "namespace", name, "--wait=true", "--timeout=240s", timeout=300)


@pytest.fixture
def kubeconfig(kubectl: Kubectl, namespace: str, tmp_path: Path) -> Path:
    """The current context alone, in a file of the test's, defaulting to its namespace (Tilt
    deploys to the context's namespace)."""
    path = tmp_path / "kubeconfig"
    path.write_text(kubectl("config", "view", "--minify", "--flatten"))
    kubectl(
        "config", "set-context", "--current", f"--namespace={namespace}", f"--kubeconfig={path}"
    )
    return path


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return copy_repository(tmp_path / "repo")


@pytest.fixture
def tool_env(kubeconfig: Path, tmp_path: Path) -> dict[str, str]:
    return tool_environment(kubeconfig, tmp_path / "home", [])


@pytest.fixture
def skaffold() -> str:
    return require_tool("skaffold", "make devloop-tools")


@pytest.fixture
def tilt() -> str:
    return require_tool("tilt", "make devloop-tools")


@pytest.fixture
def api(kubectl: Kubectl, namespace: str, tmp_path: Path):
    """The API's Service through a port-forward (the Ingress host is shared by every release
    on the cluster, so it would not say which namespace answered)."""
    forward = PortForward(kubectl.path, namespace, "svc/fastapi-example", 8080, tmp_path)
    yield forward
    forward.close()


def registry_tags(repository: str) -> set[str]:
    """The tags the cluster's registry holds for a repository (plain HTTP on loopback)."""
    reply = httpx.get(f"http://{REGISTRY}/v2/{repository}/tags/list", timeout=10)
    if reply.status_code == 404:
        return set()
    reply.raise_for_status()
    return set(reply.json().get("tags") or [])


def api_pods(kubectl: Kubectl, namespace: str) -> list[dict]:
    pods = kubectl.json("get", "pods", "-n", namespace, "-l", "app.kubernetes.io/component=api")
    return [p for p in pods["items"] if not p["metadata"].get("deletionTimestamp")]


def workload_images(kubectl: Kubectl, namespace: str) -> dict[str, str]:
    """name of each Deployment/StatefulSet -> the image of its first container."""
    found = kubectl.json("get", "deployments,statefulsets", "-n", namespace)["items"]
    return {
        w["metadata"]["name"]: w["spec"]["template"]["spec"]["containers"][0]["image"]
        for w in found
    }


def rollout(kubectl: Kubectl, namespace: str, timeout: int = 420) -> None:
    for workload in ("statefulset/fastapi-example-mysql", "deployment/fastapi-example"):
        kubectl(
            "rollout", "status", workload, "-n", namespace, f"--timeout={timeout}s",
            timeout=timeout + 30,
        )  # fmt: skip


def events(kubectl: Kubectl, namespace: str) -> str:
    """The namespace's warnings and the API pods' last log lines (earlier runs of restarted
    containers too), for failure messages."""
    found = kubectl.json("get", "events", "-n", namespace, "--field-selector", "type=Warning")
    text = yaml.safe_dump([f"{e['reason']}: {e['message']}" for e in found["items"]][-20:])
    for previous in ("--previous", ""):
        logs = kubectl.run(
            "logs", "-n", namespace, "-l", "app.kubernetes.io/component=api",
            "--all-containers", "--prefix", "--tail=30", *filter(None, [previous]), check=False,
        )  # fmt: skip
        text += f"\nAPI pods' logs {previous}:\n{logs.stdout}{logs.stderr}"
    return text
