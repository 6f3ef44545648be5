"""The chart's monitoring objects, rendered by the real helm: they ship this folder's sources."""

import json
import re

import pytest
import yaml

from tests.observability import grafana
from tests.support import helm
from tests.support.tools import REPO

RULES = REPO / "prometheus" / "alerts.rules.yaml"
MONITORING_VALUES = helm.CHART / "ci" / "monitoring-values.yaml"


@pytest.fixture(scope="module", params=helm.HELMS)
def objects(request):
    return helm.render(values_files=[MONITORING_VALUES], helm=request.param, namespace="demo")


def selects(selector: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def test_service_monitor_selects_exactly_the_api_service_and_its_metrics_port(objects):
    sm = helm.find(objects, "ServiceMonitor")
    assert sm["spec"]["namespaceSelector"] == {"matchNames": ["demo"]}
    selector = sm["spec"]["selector"]["matchLabels"]
    services = [
        s for s in helm.find_all(objects, "Service") if selects(selector, s["metadata"]["labels"])
    ]
    assert len(services) == 1, [s["metadata"]["name"] for s in services]
    service = services[0]
    deployment = helm.find(objects, "Deployment")
    assert selects(
        service["spec"]["selector"], deployment["spec"]["template"]["metadata"]["labels"]
    )
    ports = {p["name"]: p for p in service["spec"]["ports"]}
    (endpoint,) = sm["spec"]["endpoints"]
    assert endpoint["port"] in ports
    # ...and that Service port leads to the container port the API's metrics listener uses.
    target = ports[endpoint["port"]]["targetPort"]
    (api,) = [c for c in helm.pod_spec(deployment)["containers"] if c["name"] == "api"]
    container_ports = {p["name"]: p["containerPort"] for p in api["ports"]}
    assert target in (endpoint["port"], container_ports.get("metrics"))
    metrics_port = {e["name"]: e.get("value") for e in api.get("env", [])}.get("METRICS_PORT")
    assert str(container_ports["metrics"]) == (metrics_port or "8000")
    assert endpoint["path"] == "/metrics"


def test_service_monitor_takes_its_values(objects):
    values = yaml.safe_load(MONITORING_VALUES.read_text())["metrics"]["serviceMonitor"]
    sm = helm.find(objects, "ServiceMonitor")
    (endpoint,) = sm["spec"]["endpoints"]
    assert endpoint["interval"] == values["interval"]
    assert endpoint["scrapeTimeout"] == values["scrapeTimeout"]
    assert endpoint["relabelings"] == values["relabelings"]
    assert sm["metadata"]["labels"]["release"] == values["additionalLabels"]["release"]


def test_prometheus_rule_holds_exactly_the_rules_files_groups(objects):
    rule = helm.find(objects, "PrometheusRule")
    assert rule["spec"]["groups"] == yaml.safe_load(RULES.read_text())["groups"]
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"


def test_dashboard_configmaps_carry_the_sidecar_label_and_the_files(objects):
    maps = [
        o for o in helm.find_all(objects, "ConfigMap") if "-dashboard-" in o["metadata"]["name"]
    ]
    shipped = {}
    for cm in maps:
        assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert cm["metadata"]["namespace"] == "monitoring"
        assert cm["metadata"]["annotations"]["grafana_folder"] == "fastapi-example"
        for name, text in cm["data"].items():
            shipped[name] = json.loads(text)
    assert shipped == {p.name: grafana.load(p) for p in grafana.DASHBOARDS}


def test_monitoring_objects_follow_their_switches():
    off = helm.render(
        values={
            "metrics": {"serviceMonitor": {"enabled": False}, "prometheusRule": {"enabled": False}},
            "dashboards": {"enabled": False},
        }
    )
    kinds = {o["kind"] for o in off}
    assert not kinds & {"ServiceMonitor", "PrometheusRule"}
    assert not [
        o for o in helm.find_all(off, "ConfigMap") if "-dashboard-" in o["metadata"]["name"]
    ]
    extra = helm.render(values={"dashboards": {"labels": {"grafana_dashboard": "1", "team": "x"}}})
    maps = [o for o in helm.find_all(extra, "ConfigMap") if "-dashboard-" in o["metadata"]["name"]]
    assert maps and all(m["metadata"]["labels"]["team"] == "x" for m in maps)
    assert all(m["metadata"]["namespace"] == helm.NAMESPACE for m in maps)


@pytest.mark.parametrize("release", ["fastapi-example", "demo"])
def test_rules_and_dashboards_find_the_charts_objects(release):
    """The rules select by name patterns; the chart's default names must match them."""
    objects = helm.render(release=release)
    rules = RULES.read_text()
    service = helm.find(objects, "Service", _api_service(objects))
    cronjob = helm.find(objects, "CronJob")["metadata"]["name"]
    mysql = helm.find(objects, "StatefulSet")["metadata"]["name"]
    deployment = helm.find(objects, "Deployment")["metadata"]["name"]
    assert re.fullmatch(_pattern(rules, "job"), service["metadata"]["name"])
    assert re.fullmatch(_pattern(rules, "pod"), f"{deployment}-6d8f9c7b5-k2x4p")
    assert re.fullmatch(_pattern(rules, "cronjob"), cronjob)
    assert re.fullmatch(_pattern(rules, "job_name"), f"{cronjob}-29412000")
    assert re.fullmatch(_pattern(rules, "statefulset"), mysql)
    board = next(grafana.load(p) for p in grafana.DASHBOARDS if p.stem == "jobs-database")
    regex = {v["name"]: v.get("regex") for v in grafana.variables(board)}
    assert grafana.apply_regex({"regex": regex["cronjob"]}, [cronjob, "other-job"]) == [cronjob]
    assert grafana.apply_regex({"regex": regex["mysql"]}, [mysql, "redis"]) == [mysql]


def _api_service(objects) -> str:
    names = [
        s["metadata"]["name"]
        for s in helm.find_all(objects, "Service")
        if any(p["name"] == "metrics" for p in s["spec"]["ports"])
    ]
    assert len(names) == 1, names
    return names[0]


def _pattern(rules: str, label: str) -> str:
    """The one regex the rules file uses for a label (all its rules agree on it)."""
    found = set(re.findall(rf'\b{label}=~"([^"]+)"', rules))
    assert len(found) == 1, (label, found)
    return found.pop()
