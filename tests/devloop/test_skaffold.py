"""skaffold.yaml on the cluster of `make cluster-up`: `skaffold run` builds the image with the
offline recipe, pushes it to the cluster's registry and installs the chart; `skaffold dev -p
kustomize` syncs a changed .py file into the running pod, served without a new image."""

import uuid

from tests.devloop.conftest import (
    REGISTRY,
    api_pods,
    events,
    registry_tags,
    rollout,
    workload_images,
)
from tests.devloop.processes import Background
from tests.support.waiting import wait_until

# --default-repo: images go to the cluster's registry (the `local-cluster` profile, which the
# context turns on, pushes them); every build is a real one, not an image found in a cache.
COMMON = ["--default-repo", REGISTRY, "--cache-artifacts=false", "--update-check=false"]


def test_skaffold_run_builds_pushes_and_installs_the_chart(
    skaffold, workspace, tool_env, kubectl, namespace, api, tmp_path
):
    run = Background(
        [skaffold, "run", *COMMON, "-n", namespace, "--status-check=true"],
        tmp_path / "skaffold-run.log",
        cwd=workspace,
        env=tool_env,
    )
    try:
        code = run.wait(timeout=900)
    finally:
        run.stop()
    log = run.log()
    assert code == 0, f"skaffold run exited {code}:\n{run.tail()}\n{events(kubectl, namespace)}"
    assert "Building [fastapi-example]" in log, log

    images = workload_images(kubectl, namespace)
    api_image = images["fastapi-example"]
    repository, tag = api_image.split("@")[0].rsplit(":", 1)
    assert repository == f"{REGISTRY}/fastapi-example"
    assert tag in registry_tags("fastapi-example"), "the image was not pushed"
    assert images["fastapi-example-mysql"].startswith(f"{REGISTRY}/mysql:")
    # The chart, as a Helm release in the namespace.
    releases = kubectl.json("get", "secrets", "-n", namespace, "-l", "owner=helm")["items"]
    assert {s["metadata"]["labels"]["name"] for s in releases} == {"fastapi-example"}

    rollout(kubectl, namespace)
    for pod in api_pods(kubectl, namespace):
        (status,) = [c for c in pod["status"]["containerStatuses"] if c["name"] == "api"]
        assert status["ready"] and status["imageID"].startswith(f"{REGISTRY}/fastapi-example@")
    wait_until(lambda: (r := api.get("/healthz")) and r.status_code == 200, "the API", 120)
    # /readyz answers 200 only while the API reaches its MySQL (MariaDB here).
    ready = api.get("/readyz")
    assert ready is not None and ready.status_code == 200, ready


HEALTH = "service/fastapi_example/routes/health.py"


def test_skaffold_dev_kustomize_syncs_a_python_change_without_a_rebuild(
    skaffold, workspace, tool_env, kubectl, namespace, api, tmp_path
):
    dev = Background(
        [skaffold, "dev", "-p", "kustomize", *COMMON, "-n", namespace, "--port-forward=off"],
        tmp_path / "skaffold-dev.log",
        cwd=workspace,
        env=tool_env,
    )
    try:
        dev.wait_for_log(r"Watching for changes", timeout=900)
        rollout(kubectl, namespace)
        wait_until(lambda: (r := api.get("/healthz")) and r.status_code == 200, "the API", 120)
        assert api.get("/healthz").json() == {"status": "ok"}
        (pod,) = api_pods(kubectl, namespace)
        tags = registry_tags("fastapi-example")
        builds = dev.log().count("Building [fastapi-example]")
        assert builds == 1, dev.tail()

        token = f"synced-{uuid.uuid4().hex[:8]}"
        source = (workspace / HEALTH).read_text()
        assert 'return {"status": "ok"}' in source
        (workspace / HEALTH).write_text(source.replace('"status": "ok"', f'"status": "{token}"'))

        dev.wait_for_log(r"Syncing 1 files for .*fastapi-example", timeout=120)
        wait_until(
            lambda: (r := api.get("/healthz")) is not None and r.json() == {"status": token},
            "uvicorn to serve the synced file",
            timeout=120,
        )
        # Served by the same container of the same pod, from no new image.
        (after,) = api_pods(kubectl, namespace)
        assert after["metadata"]["uid"] == pod["metadata"]["uid"]
        restarts = {c["name"]: c["restartCount"] for c in after["status"]["containerStatuses"]}
        assert restarts == {
            c["name"]: c["restartCount"] for c in pod["status"]["containerStatuses"]
        }
        assert dev.log().count("Building [fastapi-example]") == builds, dev.tail()
        assert registry_tags("fastapi-example") == tags
    finally:
        dev.stop()
