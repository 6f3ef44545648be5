"""Drift: k8s/base holds the objects the chart renders with its default values (less the image
registry, the Secrets, the helm test Pod and the dashboards: see the tests).

The spec and annotations of the other objects; per container (init containers included) of
every workload: image, command, args, env names
(explicit ones and the keys of the ConfigMaps they load), ports, probes, lifecycle,
resources and security context, plus the pod security context. Changing either side alone
fails this test (the last two tests show it).
"""

import json
import re
import shutil
from pathlib import Path

import yaml

from tests.manifests.render import (
    CHART,
    K8S,
    by_kind,
    helm_template,
    kustomize,
    objects,
)

WORKLOADS = ("Deployment", "StatefulSet", "CronJob")
FIELDS = (
    "image",
    "command",
    "args",
    "ports",
    "startupProbe",
    "livenessProbe",
    "readinessProbe",
    "lifecycle",
    "resources",
    "securityContext",
)


def pod_spec(workload: dict) -> dict:
    if workload["kind"] == "CronJob":
        return workload["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return workload["spec"]["template"]["spec"]


def strip_hash(name: str) -> str:
    """kustomize's generated names carry a 10-character content hash; the chart's do not."""
    return re.sub(r"-[a-z0-9]{10}$", "", name)


def configmap_data(docs: list[dict], name: str) -> dict:
    for cm in by_kind(docs, "ConfigMap"):
        if strip_hash(cm["metadata"]["name"]) == name:
            return cm.get("data", {})
    raise AssertionError(f"no ConfigMap {name}")


def env_names(docs: list[dict], container: dict) -> list[str]:
    names = {e["name"] for e in container.get("env", [])}
    for source in container.get("envFrom", []):
        ref = source.get("configMapRef")
        if ref:
            names |= set(configmap_data(docs, strip_hash(ref["name"])))
    return sorted(names)


def containers(docs: list[dict]) -> dict[str, dict]:
    """{"Deployment/fastapi-example/init:migrate": {field: value}, …}"""
    out = {}
    for kind in WORKLOADS:
        for workload in by_kind(docs, kind):
            spec = pod_spec(workload)
            prefix = f"{kind}/{workload['metadata']['name']}"
            out[f"{prefix}/pod"] = {"securityContext": spec.get("securityContext")}
            for group in ("initContainers", "containers"):
                for c in spec.get(group, []):
                    fields = {f: c.get(f) for f in FIELDS}
                    fields["env names"] = env_names(docs, c)
                    out[f"{prefix}/{group}:{c['name']}"] = fields
    return out


def differences(chart: list[dict], base: list[dict]) -> list[str]:
    a, b = containers(chart), containers(base)
    diffs = [f"only in the chart: {k}" for k in sorted(a.keys() - b.keys())]
    diffs += [f"only in k8s/base: {k}" for k in sorted(b.keys() - a.keys())]
    for key in sorted(a.keys() & b.keys()):
        for field in a[key]:
            if a[key][field] != b[key][field]:
                diffs.append(f"{key} {field}: chart {a[key][field]!r} != base {b[key][field]!r}")
    return diffs


def chart_default() -> list[dict]:
    # k8s/base names the image without a registry (the name overlays' `images:` match; the
    # prod overlay sets where it is pulled from); the chart's default is the published one.
    return objects(helm_template("--set", "image.registry="))


def test_base_containers_match_the_chart_default_render():
    assert differences(chart_default(), objects(kustomize("base"))) == []


def test_base_objects_other_than_workloads_and_configmaps_match_the_chart():
    """Their spec and annotations (Ingress, Services, NetworkPolicies, PDB, ServiceAccount)."""
    chart = {(o["kind"], o["metadata"]["name"]): o for o in chart_default()}
    base = objects(kustomize("base"))
    compared = 0
    for obj in base:
        if obj["kind"] in (*WORKLOADS, "ConfigMap"):
            continue
        ours = chart[(obj["kind"], obj["metadata"]["name"])]
        assert obj.get("spec") == ours.get("spec"), obj["kind"]
        assert obj["metadata"].get("annotations") == ours["metadata"].get("annotations")
        compared += 1
    assert compared >= 8


def test_base_has_the_chart_objects_except_secrets_tests_and_dashboards():
    def names(docs):
        keep = set()
        for d in docs:
            meta = d["metadata"]
            if d["kind"] == "Secret" or "helm.sh/hook" in meta.get("annotations", {}):
                continue
            if meta.get("labels", {}).get("grafana_dashboard"):
                continue  # the monitoring component ships those
            keep.add((d["kind"], strip_hash(meta["name"])))
        return keep

    assert names(chart_default()) == names(objects(kustomize("base")))


def test_settings_and_versions_seed_match_the_chart_defaults():
    chart, base = chart_default(), objects(kustomize("base"))
    assert configmap_data(base, "fastapi-example") == configmap_data(chart, "fastapi-example")
    versions = yaml.safe_load((CHART / "values.yaml").read_text())["versions"]
    seed = json.loads(configmap_data(base, "fastapi-example-versions")["versions.json"])
    assert seed == versions
    assert json.loads(configmap_data(chart, "fastapi-example-versions")["versions.json"]) == seed


def test_dashboard_configmaps_match_the_monitoring_component():
    chart = {
        c["metadata"]["name"]: c["data"]
        for c in by_kind(chart_default(), "ConfigMap")
        if c["metadata"].get("labels", {}).get("grafana_dashboard") == "1"
    }
    prod = {
        c["metadata"]["name"]: c["data"]
        for c in by_kind(objects(kustomize("overlays/prod")), "ConfigMap")
        if c["metadata"].get("labels", {}).get("grafana_dashboard") == "1"
    }
    assert chart and prod == chart


def test_a_chart_change_alone_is_caught():
    changed = objects(helm_template("--set", "resources.limits.memory=999Mi"))
    found = differences(changed, objects(kustomize("base")))
    assert any("resources" in d and "initContainers:migrate" in d for d in found), found
    assert any("resources" in d and "containers:api" in d for d in found), found


def test_a_base_change_alone_is_caught(tmp_path: Path):
    copy = tmp_path / "k8s"
    shutil.copytree(K8S, copy)
    deployment = copy / "base" / "deployment.yaml"
    deployment.write_text(deployment.read_text().replace("path: /readyz", "path: /healthz"))
    found = differences(chart_default(), objects(kustomize(copy / "base")))
    assert any("readinessProbe" in d for d in found), found
