"""The chart's renders need no cluster, but `lookup` and Helm 3's install dry run read a
live API server: those tests use the cluster of the current kubeconfig (make cluster-up, or
kind), in a namespace of their own deleted at the end."""

import subprocess
import uuid

import pytest

from tests.support.tools import missing, require_tool


def kubectl(*args: str, input: str | None = None) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [require_tool("kubectl", "make tools"), *args],
        input=input,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
    return done


@pytest.fixture
def live_namespace():
    """A fresh namespace on the live cluster."""
    ready = subprocess.run(
        [require_tool("kubectl", "make tools"), "get", "--raw", "/readyz"],
        capture_output=True,
        timeout=15,
    )
    if ready.returncode != 0:
        missing("no Kubernetes cluster answers on the current kubeconfig: make cluster-up")
    name = f"chart-{uuid.uuid4().hex[:6]}"
    kubectl("create", "namespace", name)
    yield name
    kubectl("delete", "namespace", name, "--wait=false")
