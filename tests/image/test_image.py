"""The built image: its configuration, its contents and its size."""

import json

from tests.support.podman import podman

MAX_SIZE = 600e6  # bytes; the stand-in base alone is ~230 MB


def config(image) -> dict:
    return json.loads(podman("image", "inspect", image).stdout)[0]["Config"]


def test_image_configuration(image):
    cfg = config(image)
    assert cfg["User"] == "10001:10001"
    assert cfg["Entrypoint"] == ["/opt/venv/bin/fastapi-example"]
    assert cfg["Cmd"] == ["serve"]
    assert cfg["WorkingDir"] == "/app"
    env = dict(item.split("=", 1) for item in cfg["Env"])
    assert env["HOST"] == "0.0.0.0"  # noqa: S104 (the image listens on the pod's IP)
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["HOME"] == "/tmp"
    assert env["PATH"].startswith("/opt/venv/bin:")
    assert {"8080/tcp", "8000/tcp"} <= set(cfg.get("ExposedPorts", {}))


SCAN = """
import json, os, shutil
found = {"compilers": [c for c in ("gcc", "cc", "g++", "make") if shutil.which(c)],
         "app": sorted(os.listdir("/app")), "bad": []}
for top in ("/app", "/opt/venv", "/root", "/tmp", "/src", "/home"):
    for root, dirs, files in os.walk(top):
        for name in files + dirs:
            path = os.path.join(root, name)
            if name in (".env", "wheelhouse", "requirements-dev.txt", "Dockerfile") \
                    or name.endswith((".db", ".pem", ".key")) \
                    or (name == "tests" and root.startswith("/app")) \
                    or "/.cache/" in path + "/" or path == "/src":
                found["bad"].append(path)
print(json.dumps(found))
"""


def test_no_compilers_caches_tests_or_secrets_in_the_image(image):
    done = podman(
        "run",
        "--rm",
        "--network",
        "none",
        "--entrypoint",
        json.dumps(["python3", "-c", SCAN]),
        image,
    )
    found = json.loads(done.stdout)
    assert found["compilers"] == []
    assert found["app"] == ["cronjobs"]
    assert found["bad"] == []


def test_one_image_runs_every_command(image):
    done = podman("run", "--rm", "--network", "none", image, "--help")
    assert {"serve", "migrate", "cleanup-tokens"} <= set(done.stdout.replace(",", " ").split())
    job = podman(
        "run",
        "--rm",
        "--network",
        "none",
        "--entrypoint",
        json.dumps(["python3", "-c", "import cronjobs.token_cleanup"]),
        image,
    )
    assert job.returncode == 0


def test_image_size_is_reported_and_bounded(image):
    size = int(podman("image", "inspect", "--format", "{{.Size}}", image).stdout)
    print(f"image {image}: {size / 1e6:.0f} MB")
    assert size < MAX_SIZE
