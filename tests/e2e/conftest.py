"""Fixtures of the end-to-end suite, on the cluster of the current kubeconfig (`make
cluster-up` here, kind on a laptop): the images (`make e2e-images` builds the API image and
makes the cluster able to pull it), the main release the scenarios share, installed from the
packaged chart with only the image overrides, an HTTP client through the Ingress, users.

Scenarios that need a release of their own (an empty database, existing Secrets, uninstall,
kustomize) make one in a namespace of their own. Every namespace enforces Pod Security
`restricted` and is deleted at the end (E2E_KEEP=1 keeps them to look at)."""

import os
import subprocess
import uuid

import httpx
import pytest
import yaml

from tests.e2e.release import Cluster, Images, Release
from tests.support.api_process import login
from tests.support.tools import REPO, missing, require_tool

KEEP = os.environ.get("E2E_KEEP") == "1"
# The release's own pods first, the disruptive scenarios last.
ORDER = {"test_install": 0, "test_upgrade": 3, "test_resilience": 4, "test_shutdown": 4}


def pytest_collection_modifyitems(config, items):
    e2e = [i for i in items if i.module.__name__.startswith("tests.e2e.")]
    others = [i for i in items if i not in e2e]
    e2e.sort(key=lambda i: ORDER.get(i.module.__name__.rsplit(".", 1)[-1], 1))
    items[:] = others + e2e


def e2e_images() -> Images:
    """E2E_IMAGE (and E2E_MYSQL_IMAGE, E2E_CHART_REGISTRY) when given, else `make e2e-images`."""
    if "E2E_IMAGE" not in os.environ:
        make = require_tool("make")
        done = subprocess.run(
            [make, "-s", "e2e-images"], cwd=REPO, capture_output=True, text=True, timeout=1200
        )
        assert done.returncode == 0, f"make e2e-images:\n{done.stdout}\n{done.stderr}"
        os.environ.update(
            line.split("=", 1) for line in done.stdout.splitlines() if line.startswith("E2E_")
        )
    return Images(
        api=os.environ["E2E_IMAGE"],
        mysql=os.environ.get("E2E_MYSQL_IMAGE", ""),
        chart_registry=os.environ.get("E2E_CHART_REGISTRY", ""),
    )


@pytest.fixture(scope="session")
def cluster() -> Cluster:
    kubectl = require_tool("kubectl", "make tools")
    ready = subprocess.run([kubectl, "get", "--raw", "/readyz"], capture_output=True, timeout=15)
    if ready.returncode != 0:
        missing("no Kubernetes cluster answers on the current kubeconfig: make cluster-up")
    return Cluster(e2e_images())


@pytest.fixture(scope="session")
def session_namespaces(cluster: Cluster):
    """Makes namespaces that live as long as the session (the main release's); at its end
    every namespace the suite made is deleted and waited for."""
    made: list[str] = []

    def make(prefix: str = "e2e") -> str:
        made.append(cluster.create_namespace(prefix))
        return made[-1]

    make.made = made
    yield make
    if not KEEP:
        for name in made:
            if name in cluster.namespaces():
                cluster.delete_namespace(name)
        # Gone before the next session installs its releases (same Ingress host names).
        for name in made:
            cluster.wait_namespace_gone(name)


@pytest.fixture(scope="module")
def namespaces(cluster: Cluster, session_namespaces):
    """Makes namespaces for one scenario module, deleted when it ends: one node's CPU cannot
    hold every scenario's release at once."""
    mine: list[str] = []

    def make(prefix: str = "e2e") -> str:
        mine.append(session_namespaces(prefix))
        return mine[-1]

    yield make
    if not KEEP:
        for name in mine:
            if name in cluster.namespaces():
                cluster.delete_namespace(name)


@pytest.fixture(scope="session")
def release(cluster: Cluster, session_namespaces) -> Release:
    """The main release: the chart's defaults plus the image overrides, `helm install --wait`.
    It keeps the chart's Ingress host, so no other release may serve that host meanwhile."""
    values = yaml.safe_load((REPO / "charts" / "fastapi-example" / "values.yaml").read_text())
    host = values["ingress"]["hosts"][0]["host"]
    if other := cluster.ingress_hosts().get(host):
        pytest.fail(f"namespace {other} serves {host} already (a kept e2e run?): delete it first")
    return cluster.install(session_namespaces(), own_host=False)


@pytest.fixture(scope="session")
def client(release: Release):
    # The Ingress controller listens on the host's port 80 (kind's port mapping, or the host
    # port of make cluster-up); the release's Ingress routes its host name.
    headers = {"Host": release.ingress_host()}
    with httpx.Client(base_url="http://127.0.0.1", headers=headers, timeout=30) as c:
        yield c


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def admin(client: httpx.Client, release: Release) -> dict[str, str]:
    """Headers of a fresh admin session (each test logs in itself: sessions are capped)."""
    return bearer(login(client, *release.admin_credentials())["access_token"])


@pytest.fixture
def make_user(client: httpx.Client, admin: dict[str, str]):
    """Create a user (role `user`) with a known password; returns (username, password, id)."""

    def make() -> tuple[str, str, int]:
        username, password = f"e2e-{uuid.uuid4().hex[:10]}", f"pw-{uuid.uuid4().hex}"
        response = client.post(
            "/users", headers=admin, json={"username": username, "password": password}
        )
        assert response.status_code == 201, response.text
        return username, password, response.json()["id"]

    return make
