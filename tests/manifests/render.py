"""Renders of the kustomize trees and the chart, with the real kubectl and helm."""

import subprocess
from pathlib import Path

import yaml

from tests.support.tools import REPO, require_tool

K8S = REPO / "k8s"
CHART = REPO / "charts" / "fastapi-example"
TREES = ["base", "overlays/dev", "overlays/prod"]
# Kinds without a schema in kubernetes-validate (CRDs of the Prometheus Operator); they are
# checked by meaning instead (test_kustomize.py: selectors, ports, promtool).
CRD_KINDS = {"ServiceMonitor", "PrometheusRule"}


def run(cmd: list[str], cwd: Path = REPO) -> str:
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def kustomize(tree: str | Path) -> str:
    kubectl = require_tool("kubectl", "make tools")
    return run([kubectl, "kustomize", str(K8S / tree if isinstance(tree, str) else tree)])


def helm_template(*args: str, chart: Path = CHART) -> str:
    helm = require_tool("helm", "make tools")
    return run([helm, "template", "fastapi-example", str(chart), *args])


def objects(text: str) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def by_kind(docs: list[dict], kind: str) -> list[dict]:
    return [d for d in docs if d["kind"] == kind]


def one(docs: list[dict], kind: str, name: str | None = None) -> dict:
    found = [d for d in by_kind(docs, kind) if name is None or d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def kube_versions() -> tuple[str, str]:
    """Oldest and newest Kubernetes to validate against: the chart's kubeVersion floor and
    the newest schema kubernetes-validate ships."""
    floor = yaml.safe_load((CHART / "Chart.yaml").read_text())["kubeVersion"]
    oldest = floor.lstrip(">=~^ ").split("-")[0]
    import kubernetes_validate.utils as kv

    return oldest, kv.latest_version()
