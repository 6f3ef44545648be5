"""Every dashboard query over the API's own series, against a real Prometheus scraping the real API.

Two API processes (two "pods" of one Service) share a SQLite database; Prometheus scrapes
their metrics ports with the labels a ServiceMonitor gives. The test drives traffic (2xx,
4xx, 426, failed and throttled logins, and real 500s), then expands each panel query the
way Grafana would and asks Prometheus for it. Queries over kube-state-metrics or kubelet
series cannot have data here; test_dashboards_synthetic.py covers them.
"""

import sqlite3
import time

import httpx
import pytest

from tests.observability import grafana
from tests.observability.evaluate import evaluate, resolve
from tests.observability.promserver import Prometheus, service_monitor_job
from tests.support.api_process import ADMIN, ApiProcess, api_env
from tests.support.tools import REPO

pytestmark = pytest.mark.slow

NAMESPACE, SERVICE = "demo", "fastapi-example"
PODS = ("fastapi-example-6d8f9c7b5-k2x4p", "fastapi-example-6d8f9c7b5-q9w7z")
SCRAPE_S, STEP_S, ROUNDS = 1, 2, 3
RULES = REPO / "prometheus" / "alerts.rules.yaml"


def drive(api: ApiProcess, db, user_suffix: str) -> None:
    """One pod's share of the traffic; asserts the statuses so the counts below are known."""
    with httpx.Client(base_url=api.url, timeout=30) as c:
        r = c.post("/auth/token", json={"username": ADMIN[0], "password": ADMIN[1]})
        assert r.status_code == 200, r.text
        auth = {"Authorization": f"Bearer {r.json()['access_token']}"}
        for i in range(5):
            assert c.get("/roles").status_code == 200
            assert c.get("/versions").status_code == 200
            assert c.get("/items", headers=auth).status_code == 200
            r = c.post("/items", json={"name": f"obs-{user_suffix}-{i}"}, headers=auth)
            assert r.status_code == 201, r.text
        assert c.get("/items/987654", headers=auth).status_code == 404
        assert c.get("/auth/me").status_code == 401
        assert c.get("/roles", headers={"X-Version": "0.1"}).status_code == 426
        assert c.get("/roles", headers={"X-Version": "9.9"}).status_code == 426
        assert c.post("/items", json={}, headers=auth).status_code == 422
        # LOGIN_MAX_FAILURES (5) wrong passwords, then the same username is throttled.
        statuses = {
            c.post(
                "/auth/token", json={"username": f"nobody-{user_suffix}", "password": "x"}
            ).status_code
            for _ in range(7)
        }
        assert 401 in statuses and 429 in statuses, statuses
        # An honest 5xx: the items table disappears under the running API (as a broken
        # migration would do), so listing items fails inside the database layer.
        with sqlite3.connect(db) as conn:
            conn.execute("ALTER TABLE items RENAME TO items_gone")
        try:
            for _ in range(3):
                r = c.get("/items", headers=auth)
                assert r.status_code == 500, r.text
                assert r.headers["content-type"].startswith("application/json")
        finally:
            with sqlite3.connect(db) as conn:
                conn.execute("ALTER TABLE items_gone RENAME TO items")
        assert c.get("/items", headers=auth).status_code == 200


def scraped_total(prom: Prometheus, pod: str) -> float:
    result = prom.instant(f'sum(http_requests_total{{pod="{pod}"}})', time.time())
    return float(result[0]["value"][1]) if result else -1


def exposed_total(api: ApiProcess) -> float:
    text = httpx.get(f"{api.metrics_url}/metrics", timeout=10).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("http_requests_total{")
    )


@pytest.fixture(scope="module")
def live(prometheus_bin, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("obs-live")
    db = tmp / "db.sqlite"
    apis = {}
    prom = None
    try:
        for pod in PODS:  # two processes on one database: two pods of one Deployment
            apis[pod] = ApiProcess(api_env(DATABASE_URL=f"sqlite:///{db}"), tmp / f"{pod}.log")
            apis[pod].start()
        targets = {pod: a.metrics_url.removeprefix("http://") for pod, a in apis.items()}
        job = service_monitor_job(NAMESPACE, SERVICE, targets, f"{SCRAPE_S}s")
        (tmp / "tsdb").mkdir()
        prom = Prometheus(prometheus_bin, tmp, [job], tmp / "tsdb", [RULES])
        # A few scrapes of every target before the traffic, as in a running cluster.
        for _ in range(600):
            counts = prom.instant(f"count_over_time(up[{60 * SCRAPE_S}s])", time.time())
            if len(counts) == len(PODS) and all(float(c["value"][1]) >= 3 for c in counts):
                break
            time.sleep(0.1)
        else:
            pytest.fail("Prometheus did not scrape the API's metrics ports")
        start = time.time()
        # Rounds a few scrapes apart: rate() sees a counter grow only between two samples.
        for round_ in range(ROUNDS):
            for i, api in enumerate(apis.values()):
                drive(api, db, f"{round_}-{i}")
            time.sleep(2 * SCRAPE_S)
        # Wait (bounded) until Prometheus has scraped the final counts of every pod.
        for _ in range(300):
            if all(scraped_total(prom, p) == exposed_total(a) for p, a in apis.items()):
                break
            time.sleep(0.1)
        else:
            pytest.fail("Prometheus did not catch up with the API's counters")
        time.sleep(6 * SCRAPE_S)  # more samples after the traffic, for the rate() windows
        yield prom, start, time.time()
    finally:
        if prom:
            prom.stop()
        for api in apis.values():
            api.stop()


@pytest.mark.parametrize("path", grafana.DASHBOARDS, ids=lambda p: p.stem)
@pytest.mark.parametrize("pick_all", [False, True], ids=["first-value", "all"])
def test_every_panel_query_returns_data(live, path, pick_all):
    prom, start, end = live
    evaluate(prom, grafana.load(path), start, end, STEP_S, SCRAPE_S, pick_all, live=True)


def test_variables_resolve_to_the_service_monitor_labels(live):
    prom, start, end = live
    values = resolve(prom, grafana.load(grafana.DASHBOARDS[0]), start, end, True, live=True)
    assert values["namespace"] == NAMESPACE
    assert values["job"] == SERVICE
    runtime = next(p for p in grafana.DASHBOARDS if p.stem == "runtime")
    pods = resolve(prom, grafana.load(runtime), start, end, True, live=True)["pod"]
    assert pods == "({}|{})".format(*sorted(PODS))


def test_the_traffic_shows_up_by_status_class_and_counter(live):
    prom, _start, end = live

    def total(expr):
        return sum(float(s["value"][1]) for s in prom.instant(expr, end))

    for status in ("2xx", "4xx", "5xx"):
        assert total(f'sum(http_requests_total{{status="{status}"}})') > 0, status
    for outcome in ("success", "failure", "throttled"):
        assert total(f'fastapi_example_logins_total{{outcome="{outcome}"}}') > 0, outcome
    for reason in ("unknown", "unsupported"):
        assert total(f'fastapi_example_version_rejections_total{{reason="{reason}"}}') > 0
    labels = prom.instant("up", end)[0]["metric"]
    assert {k: labels[k] for k in ("namespace", "job", "service", "endpoint", "container")} == {
        "namespace": NAMESPACE,
        "job": SERVICE,
        "service": SERVICE,
        "endpoint": "metrics",
        "container": "api",
    }


def test_the_alerting_rules_evaluate_on_the_real_series(live):
    """The rules file loaded into the same Prometheus: every rule evaluates without error, and
    the real 5xx share of the traffic (about 8 %) puts the error-ratio alert in pending."""
    prom, _start, _end = live
    rules = [r for g in prom.api("rules")["groups"] for r in g["rules"]]
    assert len(rules) == 8
    assert all(r["health"] == "ok" for r in rules), [(r["name"], r.get("lastError")) for r in rules]
    state = {r["name"]: r for r in rules}
    assert state["FastAPIExampleAbsent"]["state"] == "inactive"
    assert state["FastAPIExampleDown"]["state"] == "inactive"
    (alert,) = state["FastAPIExampleHighErrorRatio"]["alerts"]
    assert alert["state"] in ("pending", "firing")
    assert alert["labels"]["namespace"] == NAMESPACE and alert["labels"]["job"] == SERVICE
