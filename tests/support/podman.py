"""The API image built for real with podman (the offline recipe of make/image.mk), for the
image tests; the cluster tests push it to the local registry instead (make e2e-images)."""

import subprocess

from tests.support.tools import REPO, require_tool

_built: dict[str, str] = {}


def build_image(tag: str = "fastapi-example:dev") -> str:
    """Build the image from service/Dockerfile with this machine's offline recipe (once)."""
    if tag not in _built:
        require_tool("podman")
        done = subprocess.run(
            ["make", "-s", "-C", str(REPO), "image-local", f"IMAGE={tag}"],
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert done.returncode == 0, f"make image-local failed:\n{done.stdout}\n{done.stderr}"
        _built[tag] = tag
    return _built[tag]


def image_size(tag: str) -> int:
    return int(podman("image", "inspect", "--format", "{{.Size}}", tag).stdout.strip())


def podman(*args: str, timeout: int = 120, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [require_tool("podman"), *args], capture_output=True, text=True, timeout=timeout
    )
    if check and result.returncode != 0:
        raise RuntimeError(f"podman {' '.join(args[:3])}...: {result.stderr.strip()}")
    return result
