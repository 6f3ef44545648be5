"""Rendering the chart with the real helm binaries (Helm 4 `helm`, Helm 3 `helm3`).

Interface (shared by tests/chart, tests/image, tests/observability, tests/manifests, tests/e2e):

    HELMS                       ("helm", "helm3"): parametrize over both
    CHART                       Path of charts/fastapi-example
    helm_bin(helm="helm")       path of the binary, or fail in CI / skip elsewhere
    run_helm(args, helm=...)    CompletedProcess of `helm <args>` (check=False; text)
    render_text(values=..., set_values=..., values_files=..., helm=..., release=..., namespace=...,
                kube_version=..., extra_args=...) -> str    `helm template` output (fails on error)
    render(...same...) -> list[dict]      the rendered objects (empty documents dropped)
    find(objects, kind, name=None) -> dict                 exactly one object of that kind/name
    find_all(objects, kind) -> list[dict]
    pod_spec(obj) -> dict       the pod spec of a Deployment, StatefulSet, Job, CronJob or Pod
    secret_data(obj) -> dict[str, str]    a Secret's data, base64-decoded

`values` is a dict merged like a values file (types kept); `set_values` is a dict of
`--set key=value` strings; `values_files` are paths (e.g. the chart's ci/*-values.yaml).
"""

import base64
import json
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

import yaml

from tests.support.tools import REPO, require_tool

CHART = REPO / "charts" / "fastapi-example"
HELMS = ("helm", "helm3")
RELEASE = "fastapi-example"
NAMESPACE = "fastapi-example"


def helm_bin(helm: str = "helm") -> str:
    return require_tool(helm, "run `make tools` (Helm 4 as helm, Helm 3 as helm3)")


def run_helm(args: Iterable[str], helm: str = "helm", timeout: int = 120):
    return subprocess.run(
        [helm_bin(helm), *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def render_text(
    values: Mapping | None = None,
    set_values: Mapping[str, str] | None = None,
    values_files: Iterable[Path | str] = (),
    helm: str = "helm",
    release: str = RELEASE,
    namespace: str = NAMESPACE,
    kube_version: str | None = None,
    extra_args: Iterable[str] = (),
    chart: Path = CHART,
) -> str:
    args = ["template", release, str(chart), "--namespace", namespace]
    for path in values_files:
        args += ["--values", str(path)]
    with tempfile.TemporaryDirectory() as tmp:
        if values:
            path = Path(tmp) / "values.json"  # JSON is YAML: types survive exactly
            path.write_text(json.dumps(values))
            args += ["--values", str(path)]
        for key, value in (set_values or {}).items():
            args += ["--set", f"{key}={value}"]
        if kube_version:
            args += ["--kube-version", kube_version]
        result = run_helm([*args, *extra_args], helm=helm)
    if result.returncode != 0:
        raise RenderError(result.stderr)
    return result.stdout


class RenderError(Exception):
    """helm template failed; the message is helm's stderr."""


def render(**kwargs) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(render_text(**kwargs)) if doc]


def find_all(objects: list[dict], kind: str) -> list[dict]:
    return [obj for obj in objects if obj["kind"] == kind]


def find(objects: list[dict], kind: str, name: str | None = None) -> dict:
    matches = [o for o in find_all(objects, kind) if name is None or o["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind} {name or ''}, got {len(matches)}"
    return matches[0]


def pod_spec(obj: dict) -> dict:
    kind = obj["kind"]
    if kind == "Pod":
        return obj["spec"]
    if kind == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return obj["spec"]["template"]["spec"]


def secret_data(obj: dict) -> dict[str, str]:
    data = {k: base64.b64decode(v).decode() for k, v in (obj.get("data") or {}).items()}
    data.update(obj.get("stringData") or {})
    return data


def chart_values() -> dict:
    return yaml.safe_load((CHART / "values.yaml").read_text())


def subprocess_ok(result: subprocess.CompletedProcess) -> str:
    """stdout+stderr of a finished helm call, for assertion messages."""
    return f"rc={result.returncode}\n{result.stdout}\n{result.stderr}"
