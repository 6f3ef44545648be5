"""skaffold.yaml and the Tiltfile against what they reference: paths, the image name, values
files, overlays, workloads and ports of the real renders. Static and quick, part of `make
test`; tests/devloop runs the tools themselves on the cluster (`make test-devloop`)."""

import ast
import re
from pathlib import Path

import pytest
import yaml

from tests.manifests.render import CHART, helm_template, kustomize, objects, one
from tests.support.tools import REPO

VALUES = yaml.safe_load((CHART / "values.yaml").read_text())
IMAGE = VALUES["image"]["repository"]
LIVE_RELOAD = REPO / "k8s" / "components" / "live-reload" / "kustomization.yaml"


def has_value(path: str) -> bool:
    node = VALUES
    for key in path.split("."):
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True


def reload_dir() -> str:
    args = yaml.safe_load(yaml.safe_load(LIVE_RELOAD.read_text())["patches"][0]["patch"])
    script = next(op["value"] for op in args if op["path"].endswith("/args"))[0]
    return re.search(r"PYTHONPATH=(\S+)", script).group(1)


@pytest.fixture(scope="module")
def chart_docs() -> list[dict]:
    return objects(helm_template("-f", str(REPO / "kind" / "values.yaml")))


@pytest.fixture(scope="module")
def dev_docs() -> list[dict]:
    return objects(kustomize("overlays/dev"))


# -- skaffold.yaml ---------------------------------------------------------------------------
SKAFFOLD = yaml.safe_load((REPO / "skaffold.yaml").read_text())


def pointer_exists(doc, pointer: str, parent_only: bool) -> bool:
    parts = pointer.strip("/").split("/")
    for part in parts[:-1] if parent_only else parts:
        if isinstance(doc, list):
            if not part.isdigit() or int(part) >= len(doc):
                return False
            doc = doc[int(part)]
        elif isinstance(doc, dict) and part in doc:
            doc = doc[part]
        else:
            return False
    return True


def test_skaffold_schema_and_artifact():
    assert re.fullmatch(r"skaffold/v4beta\d+", SKAFFOLD["apiVersion"])
    (artifact,) = SKAFFOLD["build"]["artifacts"]
    assert artifact["image"] == IMAGE, "the artifact must be the chart's image.repository"
    context = REPO / artifact.get("context", ".")
    assert context == REPO and (context / artifact["docker"]["dockerfile"]).is_file()


def test_skaffold_helm_release_references_exist():
    (release,) = SKAFFOLD["deploy"]["helm"]["releases"]
    assert (REPO / release["chartPath"] / "Chart.yaml").is_file()
    for values_file in release["valuesFiles"]:
        assert (REPO / values_file).is_file(), values_file
    key = re.sub(r"[^A-Za-z0-9]", "_", IMAGE)
    templates = release["setValueTemplates"]
    assert templates == {
        "image.repository": f"{{{{.IMAGE_REPO_{key}}}}}",
        "image.tag": f"{{{{.IMAGE_TAG_{key}}}}}",
    }
    assert all(has_value(k) for k in templates)


def test_skaffold_kustomize_profile_and_file_sync():
    profile = skaffold_profile("kustomize")
    for path in profile["manifests"]["kustomize"]["paths"]:
        assert (REPO / path / "kustomization.yaml").is_file()
        assert objects(kustomize(Path(REPO / path)))
    for patch in profile["patches"]:
        assert pointer_exists(SKAFFOLD, patch["path"], parent_only=patch["op"] == "add"), patch
    sync = next(p["value"] for p in profile["patches"] if p["path"].endswith("/sync"))
    for rule in sync["manual"]:
        matches = list(REPO.glob(rule["src"]))
        assert matches, f"sync source {rule['src']} matches no file"
        assert rule["dest"] == reload_dir(), "files must land where the dev server runs from"
        for match in matches:
            synced = match.relative_to(REPO).as_posix().removeprefix(rule.get("strip", ""))
            assert synced.startswith(("fastapi_example/", "cronjobs/")), synced


CLUSTER_VERSIONS = dict(
    line.split("=", 1)
    for line in (REPO / "cluster" / "versions.env").read_text().splitlines()
    if line and not line.startswith("#")
)
# What `make cluster-up` pushes to its registry and its kube context (cluster/up.sh).
LOCAL_MARIADB = f"localhost:5000/mariadb:{CLUSTER_VERSIONS['MARIADB_IMAGE_TAG']}"
LOCAL_CONTEXT = "kubernetes-admin@fastapi-example"


def skaffold_profile(name: str) -> dict:
    (profile,) = [p for p in SKAFFOLD["profiles"] if p["name"] == name]
    return profile


def test_skaffold_local_cluster_profile(chart_docs, dev_docs):
    """The profile for `make cluster-up`: on by its context, ahead of `kustomize` (skaffold
    applies self-activated profiles first), the offline build, and MariaDB standing in for
    the MySQL image of both renders."""
    profile = skaffold_profile("local-cluster")
    assert profile["activation"] == [{"kubeContext": LOCAL_CONTEXT}]
    names = [p["name"] for p in SKAFFOLD["profiles"]]
    assert names.index("local-cluster") < names.index("kustomize")
    patches = {(p["op"], p["path"]): p.get("value") for p in profile["patches"]}
    for op, path in patches:
        assert pointer_exists(SKAFFOLD, path, parent_only=op == "add" or path.endswith("/-"))
    api = patches[("add", "/build/artifacts/0/custom")]
    assert "make --no-print-directory image-local" in api["buildCommand"]
    for path in api["dependencies"]["paths"]:
        assert (REPO / path).is_dir(), path
    mysql = patches[("add", "/build/artifacts/-")]
    assert LOCAL_MARIADB in mysql["custom"]["buildCommand"]
    for path in mysql["custom"]["dependencies"]["paths"]:
        assert (REPO / mysql["context"] / path).is_file(), path
    # skaffold swaps the artifact in for every image of that name, in both renders.
    for docs in (chart_docs, dev_docs):
        statefulset = one(docs, "StatefulSet", "fastapi-example-mysql")
        image = statefulset["spec"]["template"]["spec"]["containers"][0]["image"]
        assert image.split(":")[0] == mysql["image"], image
    assert patches[("replace", "/build/local")] == {"push": True}


@pytest.mark.parametrize("render", ["chart_docs", "dev_docs"])
def test_skaffold_port_forwards_name_real_service_ports(render, request):
    docs = request.getfixturevalue(render)
    for forward in SKAFFOLD["portForward"]:
        assert forward["resourceType"] == "service"
        service = one(docs, "Service", forward["resourceName"])
        assert forward["port"] in {p["port"] for p in service["spec"]["ports"]}


# -- Tiltfile ----------------------------------------------------------------------------------
TILTFILE = (REPO / "Tiltfile").read_text()
TREE = ast.parse(TILTFILE)  # Starlark is Python syntax
CONSTANTS = {
    node.targets[0].id: node.value.value
    for node in TREE.body
    if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
}


def value(node):
    """A literal argument, with module constants and string `+` resolved."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return CONSTANTS.get(node.id)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = value(node.left), value(node.right)
        return left + right if isinstance(left, str) and isinstance(right, str) else None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        left, right = value(node.left), value(node.right)
        return left % tuple(right) if isinstance(left, str) and right is not None else None
    if isinstance(node, ast.List | ast.Tuple):
        return [value(n) for n in node.elts]
    return None


def calls(name: str) -> list[ast.Call]:
    return [
        n
        for n in ast.walk(TREE)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == name
    ]


def kwarg(call: ast.Call, name: str):
    return next((value(k.value) for k in call.keywords if k.arg == name), None)


def test_tiltfile_image_build_and_live_update():
    (build,) = calls("docker_build")
    assert value(build.args[0]) == IMAGE
    assert (REPO / kwarg(build, "context") / kwarg(build, "dockerfile")).is_file()
    for path in kwarg(build, "only"):
        assert (REPO / path).exists(), path
    for call in calls("fall_back_on"):
        for path in value(call.args[0]):
            assert (REPO / path).is_file(), path
    syncs = calls("sync")
    assert {value(c.args[0]) for c in syncs} == {"service/fastapi_example", "cronjobs"}
    for call in syncs:
        src, dest = value(call.args[0]), value(call.args[1])
        assert (REPO / src).is_dir()
        assert dest == f"{reload_dir()}/{Path(src).name}"


def test_tiltfile_local_cluster_branch():
    """On the context of `make cluster-up`: the offline build pushed to its registry, with the
    same live update as the docker build, and MariaDB standing in for MySQL."""
    assert CONSTANTS["LOCAL_CLUSTER_CONTEXT"] == LOCAL_CONTEXT
    assert CONSTANTS["LOCAL_CLUSTER_MYSQL"] == LOCAL_MARIADB
    assert CONSTANTS["LOCAL_CLUSTER_REGISTRY"] == LOCAL_MARIADB.split("/")[0]
    (allowed,) = calls("allow_k8s_contexts")
    assert LOCAL_CONTEXT in value(allowed.args[0])
    (build,) = calls("custom_build")
    assert value(build.args[0]) == IMAGE
    assert "make --no-print-directory image-local" in value(build.args[1])
    for path in kwarg(build, "deps"):
        assert (REPO / path).is_dir(), path
    assert kwarg(build, "skips_local_docker") is True and kwarg(build, "disable_push") is True
    (docker,) = calls("docker_build")
    for call in (build, docker):
        assert next(k.value.id for k in call.keywords if k.arg == "live_update") == "LIVE_UPDATE"


def test_tiltfile_deploy_references_exist():
    (chart,) = calls("helm")
    assert (REPO / value(chart.args[0]) / "Chart.yaml").is_file()
    for values_file in kwarg(chart, "values"):
        assert (REPO / values_file).is_file()
    settings = dict(s.split("=", 1) for s in kwarg(chart, "set"))
    assert all(has_value(k) for k in settings)
    # The dev Secrets it creates carry the keys the chart reads from existing Secrets.
    secrets = {
        s["metadata"]["name"]: set(s["stringData"])
        for s in yaml.safe_load_all(CONSTANTS["DEV_SECRETS"])
    }
    assert secrets == {
        settings["auth.existingSecret"]: {"admin-password", "password-pepper"},
        settings["mysql.auth.existingSecret"]: {"mysql-root-password", "mysql-password"},
    }
    (overlay,) = calls("kustomize")
    assert (REPO / value(overlay.args[0]) / "kustomization.yaml").is_file()
    assert (REPO / CONSTANTS["LIVE_RELOAD"]).resolve() == LIVE_RELOAD


@pytest.mark.parametrize("render", ["chart_docs", "dev_docs"])
def test_tiltfile_resources_and_port_forwards_are_real(render, request):
    docs = request.getfixturevalue(render)
    workloads = {
        d["metadata"]["name"]: d
        for d in docs
        if d["kind"] in ("Deployment", "StatefulSet", "CronJob")
    }
    for call in calls("k8s_resource"):
        name = value(call.args[0])
        assert name in workloads, f"k8s_resource({name!r}) names no workload"
        for dep in kwarg(call, "resource_deps") or []:
            assert dep in workloads
    # Port-forwards belong to a workload and must target ports its containers declare.
    for call in calls("k8s_resource"):
        forwards = next((k.value for k in call.keywords if k.arg == "port_forwards"), None)
        if forwards is None:
            continue
        workload = workloads[value(call.args[0])]
        spec = workload["spec"]["template"]["spec"]
        ports = {p["containerPort"] for c in spec["containers"] for p in c.get("ports", [])}
        targets = [value(f.args[1]) for f in forwards.elts]
        assert targets and set(targets) <= ports, (targets, ports)
    cronjob = CONSTANTS["CRONJOB"]
    assert one(docs, "CronJob", cronjob)
    (button,) = calls("local_resource")
    assert f"--from=cronjob/{cronjob} " in kwarg(button, "cmd")
