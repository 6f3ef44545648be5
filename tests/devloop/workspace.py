"""A private copy of the repository for a dev-loop tool to build from and watch.

skaffold and Tilt watch their folder and rebuild on any change, and the image build writes
build/wheelhouse: each test gets its own copy, so neither the checkout (where others edit)
nor a concurrent run can disturb it, and a test may edit files in it.
"""

import os
import shutil
import subprocess
from pathlib import Path

from tests.support.tools import REPO


def working_tree_files() -> list[str]:
    """The checkout's files as they are now: tracked and new, without what git ignores."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout.decode()
    return [name for name in listed.split("\0") if name and (REPO / name).is_file()]


def copy_repository(dest: Path) -> Path:
    """The working tree under `dest`, plus what `make image-local` needs from the checkout."""
    for name in working_tree_files():
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, target)
    # The offline build runs pip from the checkout's virtualenv. Only its bin/ is linked, next
    # to a fresh .installed stamp, so make never re-runs the venv recipe (which would install
    # this copy's package into the shared virtualenv).
    venv = dest / ".venv"
    venv.mkdir()
    (venv / "bin").symlink_to(REPO / ".venv" / "bin")
    (venv / ".installed").touch()
    # The wheels already downloaded: pip only checks them against the index.
    wheelhouse = REPO / "build" / "wheelhouse"
    if wheelhouse.is_dir():
        shutil.copytree(wheelhouse, dest / "build" / "wheelhouse")
    return dest


def tool_environment(kubeconfig: Path, home: Path, extra_path: list[str]) -> dict[str, str]:
    """The environment of a dev-loop tool: this repository's helm and kubectl first, the
    test's own kubeconfig (its namespace), no update checks or usage reports (the machines
    reach no network but package registries), state under the test's folder."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([*extra_path, str(REPO / ".tools" / "bin"), env["PATH"]])
    env["KUBECONFIG"] = str(kubeconfig)
    env["SKAFFOLD_UPDATE_CHECK"] = "false"
    env["SKAFFOLD_INTERACTIVE"] = "false"
    env["TILT_DISABLE_ANALYTICS"] = "1"
    env["DO_NOT_TRACK"] = "1"
    env["TILT_DEV_DIR"] = str(home / "tilt-dev")
    env["HELM_CACHE_HOME"] = str(home / "helm-cache")
    env["HELM_CONFIG_HOME"] = str(home / "helm-config")
    env["HELM_DATA_HOME"] = str(home / "helm-data")
    return env
