"""Fixtures of the cluster smoke test: kubectl on the cluster of the current kubeconfig
(`make cluster-up` merges its own), a fresh namespace per test with Pod Security `restricted`
enforced, and a small web image built here with podman and pushed to the cluster's registry.
"""

import hashlib
import json
import subprocess
import uuid
from pathlib import Path

import pytest
import yaml

from tests.support.tools import REPO, missing, require_tool
from tests.support.waiting import wait_until

VERSIONS = dict(
    line.split("=", 1)
    for line in (REPO / "cluster" / "versions.env").read_text().splitlines()
    if line and not line.startswith("#")
)
REGISTRY = "localhost:5000"
# What the restricted Pod Security level asks of every container.
RESTRICTED = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "runAsNonRoot": True,
    "runAsUser": 10001,
    "seccompProfile": {"type": "RuntimeDefault"},
}


class Kubectl:
    def __init__(self, path: str) -> None:
        self.path = path

    def run(self, *args: str, input: str | None = None, check: bool = True, timeout: float = 120):
        done = subprocess.run(
            [self.path, *args], input=input, capture_output=True, text=True, timeout=timeout
        )
        if check:
            assert done.returncode == 0, f"kubectl {' '.join(args)}:\n{done.stdout}{done.stderr}"
        return done

    def __call__(self, *args: str, **kwargs) -> str:
        return self.run(*args, **kwargs).stdout

    def json(self, *args: str) -> dict:
        return json.loads(self(*args, "-o", "json"))

    def apply(self, *objects: dict, namespace: str | None = None) -> None:
        ns = ["-n", namespace] if namespace else []
        self("apply", *ns, "-f", "-", input=yaml.safe_dump_all(objects))


@pytest.fixture(scope="session")
def kubectl() -> Kubectl:
    path = require_tool("kubectl", "make tools")
    k = Kubectl(path)
    if k.run("get", "--raw", "/readyz", check=False, timeout=15).returncode != 0:
        missing("no Kubernetes cluster answers on the current kubeconfig: make cluster-up")
    return k


@pytest.fixture
def namespace(kubectl: Kubectl, request) -> str:
    test = request.node.name.removeprefix("test_").replace("_", "-")[:40]
    name = f"smoke-{test}-{uuid.uuid4().hex[:5]}"
    kubectl.apply(
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": name,
                "labels": {"pod-security.kubernetes.io/enforce": "restricted"},
            },
        }
    )
    yield name
    kubectl("delete", "namespace", name, "--wait=false")


# The smoke test's web server: `/` says hello, `/metrics` is a Prometheus target.
WEB_SERVER = """\
from http.server import BaseHTTPRequestHandler, HTTPServer

PAGES = {
    "/": ("text/plain", b"hello from smoke-web\\n"),
    "/metrics": ("text/plain; version=0.0.4", b"# TYPE smoke_up gauge\\nsmoke_up 1\\n"),
}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        content_type, body = PAGES.get(self.path, ("text/plain", b"not found\\n"))
        self.send_response(200 if self.path in PAGES else 404)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


HTTPServer(("", 8080), Handler).serve_forever()
"""


@pytest.fixture(scope="session")
def web_image(kubectl: Kubectl, tmp_path_factory) -> str:
    """WEB_SERVER on the project's Python base image, tagged by its content (the kubelet
    does not pull a tag it already has)."""
    podman = require_tool("podman", ".ci/setup-podman.sh")
    subprocess.run(["bash", str(REPO / ".ci" / "setup-podman.sh")], check=True)
    image = f"{REGISTRY}/smoke-web:{hashlib.sha256(WEB_SERVER.encode()).hexdigest()[:12]}"
    context: Path = tmp_path_factory.mktemp("smoke-web")
    (context / "server.py").write_text(WEB_SERVER)
    (context / "Containerfile").write_text(
        "FROM localhost/pybase:bookworm\n"
        "COPY server.py /srv/server.py\n"
        'CMD ["python3", "/srv/server.py"]\n'
    )
    for cmd in (
        [podman, "build", "-q", "--network", "none", "-t", image, str(context)],
        [podman, "push", "-q", "--tls-verify=false", image],
    ):
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"{' '.join(cmd)}:\n{done.stderr}"
    return image


def container(name: str, image: str, **spec) -> dict:
    return {"name": name, "image": image, "securityContext": RESTRICTED, **spec}


def pod(name: str, *containers: dict, labels: dict | None = None, **spec) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels or {"app": name}},
        "spec": {"containers": list(containers), **spec},
    }


def web_deployment(name: str, image: str, replicas: int = 1) -> list[dict]:
    """A Deployment of the web image with a readiness probe, and its Service on port 80."""
    probe = {"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 2}
    template = pod(
        name,
        container(
            "web", image, ports=[{"name": "http", "containerPort": 8080}], readinessProbe=probe
        ),
    )
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "labels": {"app": name}},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": name}},
                "template": {"metadata": template["metadata"], "spec": template["spec"]},
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "labels": {"app": name}},
            "spec": {
                "selector": {"app": name},
                "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
            },
        },
    ]


def fetch_from_pod(
    kubectl: Kubectl,
    namespace: str,
    name: str,
    image: str,
    url: str,
    labels: dict | None = None,
    retry_for: int = 0,
) -> str:
    """Run a pod that GETs `url`, again each second for `retry_for` seconds while it fails; the
    pod's log: the body, or the last error it met."""
    kubectl.apply(
        pod(
            name,
            container("fetch", image, command=["python3", "-c", fetch_script(url, retry_for)]),
            labels=labels,
            restartPolicy="Never",
        ),
        namespace=namespace,
    )
    wait_until(
        lambda: (
            kubectl("get", "pod", name, "-n", namespace, "-o", "jsonpath={.status.phase}")
            in ("Succeeded", "Failed")
        ),
        f"pod {name} to finish",
        timeout=120 + retry_for,
    )
    return kubectl("logs", name, "-n", namespace)


def fetch_script(url: str, retry_for: int = 0) -> str:
    """Python that prints the body at `url`, or the last error after `retry_for` seconds."""
    return (
        "import time, urllib.request\n"
        f"deadline = time.monotonic() + {retry_for}\n"
        "while True:\n"
        "    try:\n"
        f"        print(urllib.request.urlopen({url!r}, timeout=5).read().decode(), end='')\n"
        "        break\n"
        "    except Exception as e:\n"
        "        if time.monotonic() > deadline:\n"
        "            print('ERROR', type(e).__name__, e)\n"
        "            break\n"
        "        time.sleep(1)\n"
    )
