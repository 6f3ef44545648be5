"""`kubectl kustomize` of the base and both overlays: builds, schemas, checkov, and what each
overlay promises."""

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.manifests.render import (
    CRD_KINDS,
    TREES,
    by_kind,
    kube_versions,
    kustomize,
    objects,
    one,
)
from tests.support.tools import require_tool

# Checkov findings accepted on purpose, each with its reason (the chart has the same ones).
CHECKOV_ACCEPTED = {
    "CKV_K8S_15": "imagePullPolicy IfNotPresent: kind loads images locally; tags are immutable",
    "CKV_K8S_35": "the app and the official MySQL image read secrets from env (secretKeyRef)",
    "CKV_K8S_40": "MySQL runs as the official image's uid 999",
    "CKV_K8S_43": "tags in git; pin digests at release time (kustomize edit set image …@sha256)",
}
# Base and dev take the namespace from `kubectl -n`; prod sets its own and must pass this.
NAMESPACE_CHECK = {"CKV_K8S_21": "namespace chosen at apply time (kubectl -n)"}


@pytest.fixture(scope="module", params=TREES)
def tree(request) -> tuple[str, str]:
    return request.param, kustomize(request.param)


def test_builds_with_the_expected_objects(tree):
    _name, text = tree
    docs = objects(text)
    kinds = {d["kind"] for d in docs}
    assert {"Deployment", "StatefulSet", "CronJob", "Service", "Ingress", "NetworkPolicy"} <= kinds
    assert len(by_kind(docs, "ConfigMap")) >= 2, "settings and versions seed"


@pytest.mark.parametrize("which", ["oldest", "newest"])
def test_every_object_passes_kubernetes_validate_strict(tree, which, tmp_path: Path):
    name, text = tree
    version = dict(zip(["oldest", "newest"], kube_versions(), strict=True))[which]
    docs = [d for d in objects(text) if d["kind"] not in CRD_KINDS]
    manifest = tmp_path / "objects.yaml"
    manifest.write_text(yaml.safe_dump_all(docs))
    validate = require_tool("kubernetes-validate", "pip install -r requirements-dev.txt")
    done = subprocess.run(
        [validate, "--strict", "--quiet", "-k", version, str(manifest)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"{name} on Kubernetes {version}:\n{done.stdout}{done.stderr}"


def test_checkov_passes(tree, tmp_path: Path):
    name, text = tree
    checkov = require_tool("checkov", "pip install -r requirements-dev.txt")
    manifest = tmp_path / f"{name.replace('/', '-')}.yaml"
    manifest.write_text(text)
    skips = dict(CHECKOV_ACCEPTED)
    if name != "overlays/prod":
        skips.update(NAMESPACE_CHECK)
    done = subprocess.run(
        [
            checkov,
            "--quiet",
            "--compact",
            "--framework",
            "kubernetes",
            "-o",
            "json",
            "--skip-check",
            ",".join(sorted(skips)),
            "-f",
            str(manifest),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    report = json.loads(done.stdout) if done.stdout.strip().startswith(("{", "[")) else None
    assert report is not None, done.stdout + done.stderr
    reports = report if isinstance(report, list) else [report]
    failed = [
        f"{c['check_id']} {c['resource']}: {c['check_name']}"
        for r in reports
        for c in r.get("results", {}).get("failed_checks", [])
    ]
    passed = sum(r.get("summary", {}).get("passed", 0) for r in reports)
    assert failed == [] and passed > 0, "\n".join(failed)


def secret_refs(docs: list[dict]) -> set[str]:
    found = set()

    def walk(node):
        if isinstance(node, dict):
            if "secretKeyRef" in node:
                found.add(node["secretKeyRef"]["name"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(docs)
    return found


def test_base_and_prod_reference_secrets_but_never_inline_them():
    for name in ("base", "overlays/prod"):
        docs = objects(kustomize(name))
        assert by_kind(docs, "Secret") == [], f"{name} must not carry Secret objects"
        assert secret_refs(docs) == {"fastapi-example", "fastapi-example-mysql"}


def test_dev_overlay_is_one_replica_with_generated_secrets_and_a_local_host():
    docs = objects(kustomize("overlays/dev"))
    assert one(docs, "Deployment")["spec"]["replicas"] == 1
    generated = {s["metadata"]["name"] for s in by_kind(docs, "Secret")}
    assert secret_refs(docs) == generated and len(generated) == 2
    settings = [c for c in by_kind(docs, "ConfigMap") if "ENVIRONMENT" in c.get("data", {})]
    assert settings[0]["data"]["ENVIRONMENT"] == "development"
    ingress = one(docs, "Ingress")
    assert ingress["spec"]["ingressClassName"] == "traefik"
    # RFC 6761: every *.localhost name is the loopback address (browsers and curl agree).
    assert all(r["host"].endswith(".localhost") for r in ingress["spec"]["rules"])
    api = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert "serve --reload" in api["args"][0]


def test_prod_overlay_scales_with_an_hpa_and_turns_monitoring_on():
    docs = objects(kustomize("overlays/prod"))
    deployment = one(docs, "Deployment")
    assert "replicas" not in deployment["spec"], "the HPA owns the replica count"
    hpa = one(docs, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert hpa["spec"]["minReplicas"] >= 2
    assert one(docs, "PodDisruptionBudget")["spec"]["minAvailable"] >= 1
    assert {d["metadata"].get("namespace") for d in docs} == {"fastapi-example"}
    assert by_kind(docs, "ServiceMonitor") and by_kind(docs, "PrometheusRule")
    assert (
        len(
            [
                c
                for c in by_kind(docs, "ConfigMap")
                if c["metadata"]["labels"].get("grafana_dashboard") == "1"
            ]
        )
        >= 1
    )


def test_servicemonitor_selects_the_api_service_and_a_named_port():
    docs = objects(kustomize("overlays/prod"))
    monitor = one(docs, "ServiceMonitor")
    wanted = monitor["spec"]["selector"]["matchLabels"]
    services = [
        s
        for s in by_kind(docs, "Service")
        if wanted.items() <= s["metadata"].get("labels", {}).items()
    ]
    assert [s["metadata"]["name"] for s in services] == ["fastapi-example"]
    ports = {p["name"] for p in services[0]["spec"]["ports"]}
    assert {e["port"] for e in monitor["spec"]["endpoints"]} == {"metrics"} <= ports


def test_prometheusrule_groups_pass_promtool(tmp_path: Path):
    promtool = require_tool("promtool", "apt-get install prometheus")
    rule = one(objects(kustomize("overlays/prod")), "PrometheusRule")
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    done = subprocess.run([promtool, "check", "rules", str(rules)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_crd_objects_have_the_fields_their_operators_require():
    # The same field checks the chart's CRD objects pass (tests/chart/test_validate.py).
    from tests.chart.test_validate import check_prometheus_rule, check_service_monitor

    docs = objects(kustomize("overlays/prod"))
    check_service_monitor(one(docs, "ServiceMonitor"))
    check_prometheus_rule(one(docs, "PrometheusRule"))
