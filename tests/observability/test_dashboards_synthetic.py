"""Dashboard queries over cluster series, against synthetic kube-state-metrics and kubelet data.

There is no cluster here, so these series are written by hand (the label sets
kube-state-metrics and the kubelet export under kube-prometheus-stack, with honorLabels),
backfilled into a TSDB with `promtool tsdb create-blocks-from openmetrics`, and served by a
real Prometheus. Every panel query over kube_*/kubelet_* series must return data for them,
and the CronJob/StatefulSet variables must pick our objects, not their neighbours.
"""

import subprocess
import time

import pytest

from tests.observability import grafana
from tests.observability.evaluate import evaluate, needs_synthetic, resolve
from tests.observability.promserver import Prometheus

pytestmark = pytest.mark.slow

NS = "demo"
APP = "fastapi-example"
API_PODS = (f"{APP}-6d8f9c7b5-k2x4p", f"{APP}-6d8f9c7b5-q9w7z")
MYSQL, MYSQL_POD, CLEANUP = f"{APP}-mysql", f"{APP}-mysql-0", f"{APP}-token-cleanup"
JOB_OK, JOB_FAILED = f"{CLEANUP}-29412000", f"{CLEANUP}-29413440"
SCRAPE_S, STEP_S, SAMPLES = 30, 60, 120  # one hour of data


def labels(**kv: str) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in kv.items()) + "}"


def series(t0: int) -> dict[str, callable]:
    """name{labels} → value at sample i. KSM series carry job="kube-state-metrics" and the
    object's own namespace (honorLabels); the API's carry the ServiceMonitor's labels."""
    ksm = {"job": "kube-state-metrics", "namespace": NS}
    out = {}

    def add(name, fn, **kv):
        out[name + labels(**kv)] = fn

    def const(v):
        return lambda i: v

    for pod in API_PODS:
        api = {"namespace": NS, "job": APP, "service": APP, "endpoint": "metrics", "pod": pod}
        add("up", const(1), **api, container="api")
        add("fastapi_example_logins_total", lambda i: i, **api, container="api", outcome="success")
        add("kube_pod_status_ready", const(1), **ksm, pod=pod, uid=pod, condition="true")
        add(
            "kube_pod_container_status_restarts_total",
            lambda i: i // 40,
            **ksm,
            pod=pod,
            container="api",
        )
    for cj, created in ((CLEANUP, t0 - 86400), ("nightly-report", t0 - 3600)):
        add(
            "kube_cronjob_info",
            const(1),
            **ksm,
            cronjob=cj,
            schedule="17 3 * * *",
            concurrency_policy="Forbid",
        )
        add("kube_cronjob_created", const(created), **ksm, cronjob=cj)
        add("kube_cronjob_spec_suspend", const(0), **ksm, cronjob=cj)
        add("kube_cronjob_status_active", lambda i: int(i % 60 < 2), **ksm, cronjob=cj)
        add("kube_cronjob_status_last_successful_time", const(t0 - 7200), **ksm, cronjob=cj)
        add("kube_cronjob_next_schedule_time", const(t0 + 86400), **ksm, cronjob=cj)
    for job, ok in ((JOB_OK, True), (JOB_FAILED, False)):
        add(
            "kube_job_owner",
            const(1),
            **ksm,
            job_name=job,
            owner_kind="CronJob",
            owner_name=CLEANUP,
            owner_is_controller="true",
        )
        add("kube_job_status_succeeded", const(int(ok)), **ksm, job_name=job)
        add(
            "kube_job_status_failed",
            const(int(not ok) * 2),
            **ksm,
            job_name=job,
            reason="BackoffLimitExceeded",
        )
        for cond, v in (("true", not ok), ("false", ok), ("unknown", False)):
            add("kube_job_failed", const(int(v)), **ksm, job_name=job, condition=cond)
        add("kube_job_status_start_time", const(t0 - 7200), **ksm, job_name=job)
        if ok:
            add("kube_job_status_completion_time", const(t0 - 7158), **ksm, job_name=job)
    for sts in (MYSQL, "cache-redis"):
        add("kube_statefulset_replicas", const(1), **ksm, statefulset=sts)
        add(
            "kube_statefulset_status_replicas_ready",
            lambda i: int(i % 50 != 10),
            **ksm,
            statefulset=sts,
        )
    add(
        "kube_pod_owner",
        const(1),
        **ksm,
        pod=MYSQL_POD,
        owner_kind="StatefulSet",
        owner_name=MYSQL,
        owner_is_controller="true",
    )
    add(
        "kube_pod_status_ready",
        lambda i: int(i % 50 != 10),
        **ksm,
        pod=MYSQL_POD,
        uid=MYSQL_POD,
        condition="true",
    )
    add(
        "kube_pod_container_status_restarts_total",
        lambda i: i // 50,
        **ksm,
        pod=MYSQL_POD,
        container="mysql",
    )
    pvc = {"job": "kubelet", "namespace": NS, "persistentvolumeclaim": f"data-{MYSQL_POD}"}
    add("kubelet_volume_stats_capacity_bytes", const(8 * 2**30), **pvc)
    add("kubelet_volume_stats_used_bytes", lambda i: 2**30 + i * 2**20, **pvc)
    return out


def openmetrics(t0: int) -> str:
    lines = []
    for name, fn in series(t0).items():
        lines += [f"{name} {fn(i)} {t0 + i * SCRAPE_S}" for i in range(SAMPLES)]
    return "\n".join(lines) + "\n# EOF\n"


@pytest.fixture(scope="module")
def synthetic(promtool, prometheus_bin, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("obs-synthetic")
    t0 = int(time.time()) // 3600 * 3600 - 3 * 3600  # whole hours, well before "now"
    data = tmp / "series.om"
    data.write_text(openmetrics(t0))
    tsdb = tmp / "tsdb"
    done = subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", str(data), str(tsdb)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    prom = Prometheus(prometheus_bin, tmp, [], tsdb)
    try:
        yield prom, t0 + 10 * SCRAPE_S, t0 + (SAMPLES - 1) * SCRAPE_S
    finally:
        prom.stop()


@pytest.mark.parametrize("path", grafana.DASHBOARDS, ids=lambda p: p.stem)
@pytest.mark.parametrize("pick_all", [False, True], ids=["first-value", "all"])
def test_cluster_series_queries_return_data(synthetic, path, pick_all):
    prom, start, end = synthetic
    dashboard = grafana.load(path)
    ran = evaluate(prom, dashboard, start, end, STEP_S, SCRAPE_S, pick_all, live=False)
    assert ran == sum(needs_synthetic(q.expr) for q in grafana.queries(dashboard))


def test_variables_pick_our_cronjob_and_statefulset(synthetic):
    prom, start, end = synthetic
    path = next(p for p in grafana.DASHBOARDS if p.stem == "jobs-database")
    values = resolve(prom, grafana.load(path), start, end, pick_all=True, live=False)
    assert values["cronjob"] == CLEANUP  # not nightly-report
    assert values["mysql"] == MYSQL  # not cache-redis


def test_the_failed_cleanup_job_is_counted(synthetic):
    prom, _start, end = synthetic
    path = next(p for p in grafana.DASHBOARDS if p.stem == "jobs-database")
    dashboard = grafana.load(path)
    values = resolve(prom, dashboard, _start, end, pick_all=True, live=False)
    query = next(q for q in grafana.queries(dashboard) if "kube_job_failed" in q.expr)
    result = prom.instant(grafana.substitute(query.expr, values), end)
    assert [float(s["value"][1]) for s in result] == [1.0]
