"""The Tiltfile on the cluster of `make cluster-up`: `tilt ci` builds the image with the offline
recipe, pushes it to the cluster's registry and brings the chart's resources up (and, with
--deploy=kustomize, the dev overlay's), then exits 0."""

import socket

import pytest

from tests.devloop.conftest import REGISTRY, api_pods, events, rollout, workload_images
from tests.devloop.processes import Background
from tests.support.waiting import wait_until


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("deploy", ["helm", "kustomize"])
def test_tilt_ci_brings_the_resources_up(
    deploy, tilt, workspace, tool_env, kubectl, namespace, api, tmp_path
):
    # Its own API server port: a `tilt up` of someone else's may hold the default.
    ci = Background(
        [tilt, "ci", "--port", str(free_port()), "--timeout", "15m", "--", f"--deploy={deploy}"],
        tmp_path / "tilt-ci.log",
        cwd=workspace,
        env=tool_env,
    )
    try:
        code = ci.wait(timeout=960)
    finally:
        ci.stop()
    assert code == 0, f"tilt ci exited {code}:\n{ci.tail(120)}\n{events(kubectl, namespace)}"

    images = workload_images(kubectl, namespace)
    assert images["fastapi-example"].startswith(f"{REGISTRY}/fastapi-example:tilt-"), images
    assert images["fastapi-example-mysql"] == f"{REGISTRY}/mariadb:10.11"
    rollout(kubectl, namespace)
    pods = api_pods(kubectl, namespace)
    assert pods
    for pod in pods:
        (status,) = [c for c in pod["status"]["containerStatuses"] if c["name"] == "api"]
        assert status["ready"] and status["imageID"].startswith(f"{REGISTRY}/fastapi-example@")
    wait_until(lambda: (r := api.get("/healthz")) and r.status_code == 200, "the API", 120)
    # /readyz answers 200 only while the API reaches its MySQL (MariaDB here).
    ready = api.get("/readyz")
    assert ready is not None and ready.status_code == 200, ready
