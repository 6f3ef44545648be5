"""The release rolls out and the chart's own tests pass."""

import httpx

from tests.e2e.target import Target


def test_rollout_completes_and_every_replica_serves(target: Target, client: httpx.Client):
    target.wait_rollout()
    assert target.api_replicas() >= 1
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text


def test_helm_test_passes(target: Target):
    target.run_chart_tests()
