"""The dev loop for real: the dev overlay's API container (k8s/components/live-reload) runs
from the image under podman, a file arrives the way skaffold's sync and Tilt's live_update
deliver it (`tar x` through exec into the running container), and uvicorn reloads it, with
the root filesystem still read-only."""

import io
import subprocess
import tarfile

import httpx
import pytest
import yaml

from tests.e2e.local_target import IMAGE, ensure_image
from tests.e2e.target import wait_until
from tests.manifests.render import kustomize, objects
from tests.support import mariadb
from tests.support.podman import PodmanChart
from tests.support.tools import REPO, require_tool

SKAFFOLD = yaml.safe_load((REPO / "skaffold.yaml").read_text())


def sync_rules() -> list[dict]:
    (profile,) = [p for p in SKAFFOLD["profiles"] if p["name"] == "kustomize"]
    return next(p["value"] for p in profile["patches"] if p["path"].endswith("/sync"))["manual"]


def synced_path(local: str) -> str:
    """Where skaffold's manual sync rules put a repo file in the container."""
    for rule in sync_rules():
        if REPO.joinpath(local) in REPO.glob(rule["src"]):
            return f"{rule['dest']}/{local.removeprefix(rule.get('strip', ''))}"
    raise AssertionError(f"no sync rule for {local}")


@pytest.fixture(scope="module")
def dev_api():
    mariadb.require()
    ensure_image()
    chart = PodmanChart(objects(kustomize("overlays/dev")), image=IMAGE)
    try:
        for init in chart.run_init_containers():
            assert init.returncode == 0, init.logs
        api = chart.start()
        assert api.wait_for("startup"), api.logs()
        yield api
    finally:
        chart.close()


def test_a_synced_file_is_served_after_the_reload(dev_api):
    assert httpx.get(f"{dev_api.url}/healthz").json() == {"status": "ok"}
    local = "service/fastapi_example/routes/health.py"
    source = (REPO / local).read_text()
    assert 'return {"status": "ok"}' in source
    changed = source.replace('return {"status": "ok"}', 'return {"status": "reloaded"}').encode()

    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        info = tarfile.TarInfo(synced_path(local).lstrip("/"))
        info.size, info.mode = len(changed), 0o644
        tar.addfile(info, io.BytesIO(changed))
    # What `kubectl exec -i <pod> -- tar xmf - -C / --no-same-owner` does for skaffold.
    done = subprocess.run(
        [
            require_tool("podman"),
            "exec",
            "-i",
            dev_api.name,
            "tar",
            "xmf",
            "-",
            "-C",
            "/",
            "--no-same-owner",
        ],
        input=archive.getvalue(),
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr.decode()

    def reloaded() -> bool:
        return httpx.get(f"{dev_api.url}/healthz", timeout=2).json() == {"status": "reloaded"}

    wait_until(reloaded, "uvicorn to reload the synced file", timeout=60)
    assert dev_api.inspect()["HostConfig"]["ReadonlyRootfs"] is True
