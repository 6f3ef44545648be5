"""The chart's monitoring objects read by the cluster's prometheus-operator, as
kube-prometheus-stack's would: the ServiceMonitor makes its Prometheus scrape the API, the
PrometheusRule loads the alerts, and every panel of every dashboard has data; the dashboard
ConfigMaps carry the label the stack's Grafana sidecar selects."""

import json
import time
import uuid
from urllib.parse import urlencode

import httpx
import pytest
import yaml

from tests.e2e.conftest import bearer
from tests.e2e.release import Release
from tests.observability import grafana
from tests.observability.evaluate import evaluate
from tests.support.api_process import login
from tests.support.tools import REPO
from tests.support.waiting import wait_until

SCRAPE_S, STEP_S = 5, 10
# kube-prometheus-stack's Prometheus selects the monitors and rules labelled with its release.
MONITORING = {
    "metrics": {
        "serviceMonitor": {
            "enabled": True,
            "interval": f"{SCRAPE_S}s",
            "scrapeTimeout": f"{SCRAPE_S - 1}s",
            "additionalLabels": {"release": "kps"},
        },
        "prometheusRule": {"enabled": True, "additionalLabels": {"release": "kps"}},
    },
    "dashboards": {"enabled": True},
}


class ClusterPrometheus:
    """The operator's Prometheus through the API server's service proxy (what
    tests/observability's evaluate() asks of a Prometheus)."""

    PROXY = "/api/v1/namespaces/monitoring/services/prometheus-operated:9090/proxy/api/v1/"

    def __init__(self, release: Release) -> None:
        self.kubectl = release.cluster.kubectl

    def api(self, path: str, **params) -> dict:
        url = self.PROXY + path + ("?" + urlencode(params) if params else "")
        body = json.loads(self.kubectl("get", "--raw", url).stdout)
        assert body["status"] == "success", body
        return body["data"]

    def instant(self, expr: str, at: float) -> list[dict]:
        return self.api("query", query=expr, time=at)["result"]

    def range(self, expr: str, start: float, end: float, step: float) -> list[dict]:
        return self.api("query_range", query=expr, start=start, end=end, step=step)["result"]

    def label_values(self, label: str, match: str | None, start: float, end: float) -> list:
        params = {"start": start, "end": end} | ({"match[]": match} if match else {})
        return sorted(self.api(f"label/{label}/values", **params))


def drive(release: Release, client: httpx.Client) -> None:
    """Traffic of every kind the dashboards show: 2xx, 4xx, 426, failed and throttled logins,
        real 5xx (the items table renamed under the API, as a broken migration would), a cleanup
    that succeeds and one that fails."""
    auth = bearer(login(client, *release.admin_credentials())["access_token"])
    for i in range(5):
        assert client.get("/roles").status_code == 200
        assert client.get("/items", headers=auth).status_code == 200
        name = f"obs-{uuid.uuid4().hex[:8]}-{i}"
        assert client.post("/items", headers=auth, json={"name": name}).status_code == 201
    assert client.get("/items/987654", headers=auth).status_code == 404
    assert client.get("/auth/me").status_code == 401
    assert client.get("/roles", headers={"X-Version": "0.1"}).status_code == 426
    assert client.get("/roles", headers={"X-Version": "9.9"}).status_code == 426
    assert client.post("/items", headers=auth, json={}).status_code == 422
    nobody = f"nobody-{uuid.uuid4().hex[:6]}"
    statuses = {
        client.post("/auth/token", json={"username": nobody, "password": "x"}).status_code
        for _ in range(7)
    }
    assert {401, 429} <= statuses, statuses
    release.sql("RENAME TABLE items TO items_gone")
    try:
        for _ in range(3):
            assert client.get("/items", headers=auth).status_code == 500
    finally:
        release.sql("RENAME TABLE items_gone TO items")
    assert client.get("/items", headers=auth).status_code == 200
    release.run_cleanup_job()
    # One that cannot reach its database, for the failed-jobs panel.
    release.run_cleanup_job(env={"DB_PORT": "1"}, outcome="Failed")


@pytest.fixture(scope="module")
def monitored(release: Release, client: httpx.Client):
    release.upgrade(MONITORING)
    prom = ClusterPrometheus(release)
    api = release.service("api")["metadata"]["name"]
    up = f'up{{namespace="{release.namespace}", job="{api}"}} == 1'
    # The operator writes the scrape configuration; the kubelet brings it to the Prometheus
    # pod's volume within a few minutes.
    wait_until(
        lambda: len(prom.instant(up, time.time())) == release.api_replicas(),
        "Prometheus to scrape every API pod",
        timeout=360,
        every=5,
    )
    start = time.time()
    for _ in range(3):  # rounds a few scrapes apart: rate() needs two samples of a change
        drive(release, client)
        time.sleep(2 * SCRAPE_S)
    time.sleep(6 * SCRAPE_S)
    return prom, start, time.time()


def test_prometheus_scrapes_the_metrics_port_of_every_api_pod(monitored, release: Release):
    prom, _start, _end = monitored
    targets = prom.api("targets")["activeTargets"]
    ours = [t for t in targets if t["labels"].get("namespace") == release.namespace]
    assert len(ours) == release.api_replicas()
    assert {t["health"] for t in ours} == {"up"}
    assert {t["labels"]["endpoint"] for t in ours} == {"metrics"}


def test_the_alerting_rules_are_loaded(monitored):
    prom, _start, _end = monitored
    wanted = {
        rule["alert"]
        for group in yaml.safe_load((REPO / "prometheus" / "alerts.rules.yaml").read_text())[
            "groups"
        ]
        for rule in group["rules"]
    }
    loaded = wait_until(
        lambda: (
            {
                r["name"]: r
                for g in prom.api("rules")["groups"]
                for r in g["rules"]
                if r["name"] in wanted
            }
            or None
        ),
        "the PrometheusRule to load",
        timeout=300,
        every=5,
    )
    assert set(loaded) == wanted
    assert {r["health"] for r in loaded.values()} == {"ok"}


@pytest.mark.parametrize("path", grafana.DASHBOARDS, ids=lambda p: p.stem)
@pytest.mark.parametrize("pick_all", [False, True], ids=["first-value", "all"])
def test_every_panel_query_returns_data(monitored, release: Release, path, pick_all):
    prom, start, end = monitored
    dashboard = grafana.load(path)
    # This release's namespace, as a user picks it: the list also offers namespaces of other
    # and of deleted releases (Prometheus answers label values per block, not per sample).
    # Then All where offered, or this release's API.
    ours = {"namespace": release.namespace}
    if not pick_all:
        ours["job"] = release.service("api")["metadata"]["name"]
    # The API's own series, and those of kube-state-metrics and the kubelet.
    ran = sum(
        evaluate(prom, dashboard, start, end, STEP_S, SCRAPE_S, pick_all, live, ours)
        for live in (True, False)
    )
    assert ran == len(grafana.queries(dashboard))


def test_dashboards_carry_the_grafana_sidecar_label(monitored, release: Release):
    dashboards = [
        o
        for o in release.manifest()
        if o["kind"] == "ConfigMap"
        and o["metadata"].get("labels", {}).get("grafana_dashboard") == "1"
    ]
    assert len(dashboards) == len(grafana.DASHBOARDS)
    for obj in dashboards:
        live = release.core.read_namespaced_config_map(obj["metadata"]["name"], release.namespace)
        assert live.metadata.labels["grafana_dashboard"] == "1"
        for body in live.data.values():
            assert json.loads(body)["uid"]
