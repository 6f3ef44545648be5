"""Every rendered object of a built-in kind passes kubernetes-validate --strict for the oldest
and newest Kubernetes the chart supports; the CRD objects (ServiceMonitor, PrometheusRule,
HTTPRoute) are checked for the fields their operators require."""

import re

import pytest
import yaml

from tests.support import helm
from tests.support.tools import missing

CI_VALUES = sorted((helm.CHART / "ci").glob("*-values.yaml"))
CRD_KINDS = {"ServiceMonitor", "PrometheusRule", "HTTPRoute"}
# The Prometheus Operator's duration pattern (monitoringv1.Duration).
DURATION = re.compile(
    r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"
)
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def kube_versions() -> list[str]:
    """Oldest: Chart.yaml's kubeVersion floor; newest: kubernetes-validate's newest schema."""
    kv = _kv()
    chart = yaml.safe_load((helm.CHART / "Chart.yaml").read_text())
    floor = re.match(r"^>=\s*(\d+\.\d+)\.\d+", chart["kubeVersion"]).group(1)
    return [f"{floor}.0", kv.latest_version()]


def _kv():
    try:
        import kubernetes_validate
    except ImportError:
        missing("kubernetes-validate is not installed (make venv)")
    return kubernetes_validate


@pytest.fixture(scope="module", params=CI_VALUES, ids=lambda p: p.stem)
def rendered(request):
    values = {"httpRoute": {"enabled": True}} if request.param.stem == "default" else {}
    return helm.render(values_files=[request.param], values=values)


@pytest.mark.parametrize("which", ["oldest", "newest"])
def test_builtin_kinds_pass_strict_schema_validation(rendered, which):
    kv = _kv()
    version = kube_versions()[0 if which == "oldest" else 1]
    checked = 0
    for obj in rendered:
        if obj["kind"] in CRD_KINDS:
            continue
        try:
            kv.validate(obj, version, strict=True)
        except kv.ValidationError as error:
            pytest.fail(
                f"{obj['kind']}/{obj['metadata']['name']} on {version}: {error.message} "
                f"at {list(error.path)}"
            )
        checked += 1
    assert checked >= 5


def test_the_chart_names_the_versions_it_is_tested_on():
    oldest, newest = kube_versions()
    assert oldest == "1.30.0"
    assert tuple(map(int, newest.split("."))) > (1, 30)


def _labels_ok(labels: dict) -> bool:
    return all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items())


def check_service_monitor(sm: dict) -> None:
    assert sm["apiVersion"] == "monitoring.coreos.com/v1"
    spec = sm["spec"]
    assert spec["selector"]["matchLabels"] and _labels_ok(spec["selector"]["matchLabels"])
    assert spec["endpoints"], "at least one endpoint"
    for endpoint in spec["endpoints"]:
        assert endpoint.get("port") or endpoint.get("targetPort")
        for key in ("interval", "scrapeTimeout"):
            if key in endpoint:
                assert DURATION.match(endpoint[key]), (key, endpoint[key])
        for relabel in endpoint.get("relabelings", []):
            assert set(relabel) <= {
                "sourceLabels",
                "separator",
                "targetLabel",
                "regex",
                "modulus",
                "replacement",
                "action",
            }, relabel
    assert _labels_ok(sm["metadata"]["labels"])


def check_prometheus_rule(rule: dict) -> None:
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    groups = rule["spec"]["groups"]
    assert groups, "at least one group"
    names = [g["name"] for g in groups]
    assert len(names) == len(set(names)), "group names must be unique"
    for group in groups:
        assert set(group) <= {
            "name",
            "interval",
            "rules",
            "limit",
            "partial_response_strategy",
            "query_offset",
            "labels",
        }, group.keys()
        for item in group["rules"]:
            assert ("alert" in item) != ("record" in item), item
            assert isinstance(item["expr"], str | int) and str(item["expr"]).strip()
            if "for" in item:
                assert DURATION.match(item["for"]), item["for"]
            assert _labels_ok(item.get("labels", {})) and _labels_ok(item.get("annotations", {}))


def check_http_route(route: dict) -> None:
    assert route["apiVersion"] == "gateway.networking.k8s.io/v1"
    spec = route["spec"]
    assert 1 <= len(spec["parentRefs"]) <= 32
    assert all(DNS_LABEL.match(ref["name"]) for ref in spec["parentRefs"])
    for host in spec.get("hostnames", []):
        assert re.match(
            r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$", host
        )
    for rule in spec["rules"]:
        for match in rule.get("matches", []):
            path = match.get("path", {})
            assert path.get("type", "PathPrefix") in {"Exact", "PathPrefix", "RegularExpression"}
            assert path.get("value", "/").startswith("/")
        for ref in rule["backendRefs"]:
            assert ref["name"] and 1 <= ref["port"] <= 65535


CHECKS = {
    "ServiceMonitor": check_service_monitor,
    "PrometheusRule": check_prometheus_rule,
    "HTTPRoute": check_http_route,
}


def test_crd_objects_have_the_fields_their_operators_require():
    objects = helm.render(
        values_files=[helm.CHART / "ci" / "monitoring-values.yaml"],
        values={"httpRoute": {"enabled": True}},
    )
    seen = set()
    for obj in objects:
        if obj["kind"] in CHECKS:
            CHECKS[obj["kind"]](obj)
            seen.add(obj["kind"])
    assert seen == CRD_KINDS


def test_crd_checks_can_fail():
    objects = helm.render(values_files=[helm.CHART / "ci" / "monitoring-values.yaml"])
    sm = helm.find(objects, "ServiceMonitor")
    sm["spec"]["endpoints"][0]["interval"] = "30 seconds"
    with pytest.raises(AssertionError):
        check_service_monitor(sm)
    rule = helm.find(objects, "PrometheusRule")
    rule["spec"]["groups"][0]["rules"][0]["record"] = "also-a-record"
    with pytest.raises(AssertionError):
        check_prometheus_rule(rule)
