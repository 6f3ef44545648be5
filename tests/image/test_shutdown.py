"""`podman stop` (SIGTERM, as the kubelet sends it) while requests are in flight: they all
complete, and the container exits on its own (exit code 0) within the grace period; a SIGKILL
at the end of terminationGracePeriodSeconds would show as exit code 137.

A request is in flight once the server has read it. Connections it has not read yet are
closed at SIGTERM (uvicorn's graceful shutdown); on Kubernetes the preStop sleep keeps new
ones away by then, so the test sends SIGTERM only once the API has started every request."""

import threading
import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.podman import podman

CLIENTS = 40


@pytest.fixture(scope="module")
def api(chart):
    done = chart.run_init_containers()
    assert [d.returncode for d in done] == [0], done[-1].logs
    instance = chart.start()
    assert instance.wait_for("startup") and instance.wait_for("readiness"), instance.logs()
    return instance


def started_logins(api) -> float:
    """Logins the API has started: in flight now, or answered (the gauge falls first)."""
    text = httpx.get(f"http://127.0.0.1:{api.ports['metrics']}/metrics", timeout=5).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "fastapi_example_requests_in_flight"
        or (sample.name == "http_requests_total" and sample.labels["handler"] == "/auth/token")
    )


def test_sigterm_completes_in_flight_requests_and_exits_within_the_grace_period(chart, api):
    env = chart.resolve_env(api.container)
    body = {"username": env["ADMIN_USERNAME"], "password": env["ADMIN_PASSWORD"]}
    results: list[object] = []
    stopping = threading.Event()
    late: list[bool] = []
    connected = threading.Barrier(CLIENTS + 1)

    def login():
        with httpx.Client(timeout=60) as client:
            connected.wait()
            try:
                response = client.post(f"{api.url}/auth/token", json=body)
                results.append(response.status_code)
            except httpx.HTTPError as error:
                results.append(repr(error))
            late.append(stopping.is_set())

    threads = [threading.Thread(target=login) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    connected.wait()
    # Logins cost tens of ms of CPU each (Argon2id), so most of these are still queued in the
    # API when SIGTERM arrives.
    deadline = time.monotonic() + 30
    while started_logins(api) < CLIENTS and time.monotonic() < deadline:
        time.sleep(0.005)
    stopping.set()
    grace = api.pod["terminationGracePeriodSeconds"]
    pre_stop = api.container["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert grace > pre_stop
    done = podman("stop", "-t", str(grace - pre_stop), api.name, timeout=grace + 30)
    assert done.returncode == 0, done.stderr
    for thread in threads:
        thread.join(timeout=60)
    assert results == [200] * CLIENTS, results
    print(f"{sum(late)} of {CLIENTS} requests completed after SIGTERM")
    assert any(late), "no request was still in flight when SIGTERM was sent"
    assert api.exit_code() == 0, api.logs()[-2000:]
    assert "Shutting down" in api.logs()
