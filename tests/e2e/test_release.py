"""A release as users install it (issue 26): `make release-image release-chart` push the API
image and the packaged chart to the cluster's registry, as a `v*` tag does to ghcr.io, and
`helm install` from that OCI chart with no image value at all gives a working API.

Only the MySQL image is set (this cluster cannot pull mysql:8.4: its MariaDB stands in); the
Ingress gets a host name of its own, beside the suite's other releases."""

import subprocess
import tarfile
import tempfile
import uuid

import httpx
import pytest
import yaml

from tests.e2e.release import Cluster, Release
from tests.support.api_process import login
from tests.support.tools import REPO, require_tool

# A version no earlier run pushed: the kubelet never pulls a tag it already has.
VERSION = f"0.0.0-e2e.{uuid.uuid4().hex[:8]}"
HOST = "release-e2e.localhost"
# What the workflow passes: the repository's address, written into the packaged chart.
SOURCE_URL = "https://github.com/example-org/fastapi-example"
RELEASE_DIR = REPO / "build" / "release"


@pytest.fixture(scope="module")
def registry(cluster: Cluster) -> str:
    """The registry the cluster pulls from, with the image and the chart pushed to it."""
    registry = cluster.images.chart_registry
    if not registry:
        # kind pulls from no registry (images are loaded into its node): .ci/run's cluster has one.
        pytest.skip("this cluster has no registry to publish a release to (kind)")
    make = require_tool("make")
    targets = ["release-image", "release-chart", "release-notes"]
    done = subprocess.run(
        [make, *targets, f"VERSION=v{VERSION}", f"REGISTRY={registry}", f"SOURCE_URL={SOURCE_URL}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert done.returncode == 0, f"make release-*:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return registry


@pytest.fixture(scope="module")
def installed(cluster: Cluster, namespaces, registry: str) -> Release:
    """`helm install` of the published chart: the host name and the MySQL stand-in only."""
    namespace = namespaces("release")
    values: dict = {
        "ingress": {"hosts": [{"host": HOST, "paths": [{"path": "/", "pathType": "Prefix"}]}]}
    }
    if cluster.images.mysql:
        repository, tag = cluster.images.mysql.rsplit(":", 1)
        values["mysql"] = {"image": {"repository": repository, "tag": tag}}
    plain = ["--plain-http"] if registry.startswith(("localhost:", "127.0.0.1:")) else []
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
        yaml.safe_dump(values, f)
        f.flush()
        done = cluster.helm(
            "install",
            "fastapi-example",
            f"oci://{registry}/charts/fastapi-example",
            "--version",
            VERSION,
            *plain,
            "--namespace",
            namespace,
            "-f",
            f.name,
            "--wait",
            "--timeout",
            "5m",
        )
    release = Release(cluster, namespace, "fastapi-example")
    release.install_output = done.stdout + done.stderr
    return release


@pytest.fixture(scope="module")
def client(installed: Release):
    with httpx.Client(base_url="http://127.0.0.1", headers={"Host": HOST}, timeout=30) as c:
        yield c


def test_the_release_runs_the_published_image_without_an_image_value(
    installed: Release, registry: str
):
    user_values = yaml.safe_load(installed.helm("get", "values", "fastapi-example").stdout)
    assert "image" not in (user_values or {}), user_values
    assert "would violate PodSecurity" not in installed.install_output
    image = f"{registry}/fastapi-example:{VERSION}"
    deployment = installed.api()
    assert deployment["metadata"]["labels"]["helm.sh/chart"] == f"fastapi-example-{VERSION}"
    assert deployment["metadata"]["labels"]["app.kubernetes.io/version"] == VERSION
    pod = deployment["spec"]["template"]["spec"]
    assert {c["image"] for c in pod["containers"] + pod["initContainers"]} == {image}
    # What runs is what release-image pushed, byte for byte.
    digest = (RELEASE_DIR / "image.digest").read_text().strip()
    pods = installed.pods(deployment, ready_only=True)
    assert pods
    for p in pods:
        for status in p.status.container_statuses:
            assert status.image_id.endswith(digest), (status.image, status.image_id, digest)
    notes = (RELEASE_DIR / "notes.md").read_text()
    assert f"--version {VERSION}" in notes and digest in notes


def test_rest_on_the_published_release(client: httpx.Client, installed: Release):
    # The first admin's password is the one the release generated, read from its Secret.
    username, password = installed.admin_credentials()
    auth = {"Authorization": f"Bearer {login(client, username, password)['access_token']}"}
    me = client.get("/auth/me", headers=auth)
    assert me.status_code == 200 and me.json()["username"] == username, me.text

    name = f"release-{uuid.uuid4().hex[:8]}"
    created = client.post("/items", headers=auth, json={"name": name, "description": "first"})
    assert created.status_code == 201, created.text
    item = created.json()
    assert client.get(f"/items/{item['id']}", headers=auth).json()["name"] == name
    listed = client.get("/items", headers=auth, params={"name": name})
    assert [i["id"] for i in listed.json()["items"]] == [item["id"]]
    patched = client.patch(f"/items/{item['id']}", headers=auth, json={"description": "second"})
    assert patched.status_code == 200 and patched.json()["description"] == "second"
    assert client.delete(f"/items/{item['id']}", headers=auth).status_code == 204
    assert client.get(f"/items/{item['id']}", headers=auth).status_code == 404

    assert client.get("/items", headers={**auth, "X-Version": "1.0"}).status_code == 200
    unsupported = client.get("/items", headers={**auth, "X-Version": "0.1"})
    assert unsupported.status_code == 426, unsupported.text


def test_the_packaged_chart_names_the_repository(registry: str):
    """Chart.yaml's sources and icon and every alert's runbook_url point at SOURCE_URL: no
    OWNER placeholder is left in what users install."""
    package = RELEASE_DIR / f"fastapi-example-{VERSION}.tgz"
    with tarfile.open(package) as archive:
        files = {
            m.name: archive.extractfile(m).read().decode()
            for m in archive.getmembers()
            if m.isfile()
        }
    assert not [name for name, text in files.items() if "OWNER/" in text]
    chart = yaml.safe_load(files["fastapi-example/Chart.yaml"])
    assert chart["sources"] == [SOURCE_URL]
    raw = "https://raw.githubusercontent.com/example-org/fastapi-example/"
    assert chart["icon"].startswith(raw)
    rules = yaml.safe_load(files["fastapi-example/files/alerts.rules.yaml"])
    urls = [r["annotations"]["runbook_url"] for g in rules["groups"] for r in g["rules"]]
    assert urls and all(u.startswith(f"{SOURCE_URL}/blob/main/docs/runbooks.md#") for u in urls)
