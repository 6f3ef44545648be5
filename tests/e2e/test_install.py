"""`helm install` as a user of the published chart does it: from the OCI artifact, the chart's
defaults plus the image overrides, into a namespace that enforces Pod Security `restricted`."""

import tempfile

import httpx
import yaml

from tests.e2e.release import Cluster, Release


def test_install_rolls_out_without_pod_security_warnings(release: Release):
    assert "PodSecurity" not in release.install_output, release.install_output
    assert "Warning" not in release.install_output, release.install_output
    release.wait_rollout()
    assert release.api_replicas() == 2
    for pod in release.pods(release.api(), ready_only=True):
        assert pod.spec.security_context.run_as_non_root
        (api,) = [c for c in pod.spec.containers if c.name == "api"]
        assert api.security_context.read_only_root_filesystem
        assert api.security_context.capabilities.drop == ["ALL"]


def test_every_replica_serves_through_the_ingress(release: Release, client: httpx.Client):
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert client.get("/roles").json()[0]["name"] == "admin"


def test_helm_test_passes(release: Release):
    out = release.run_chart_tests()
    assert "Phase:          Succeeded" in out, out
    assert "logged out" in out, out  # the test's session is gone with it


def test_values_against_the_schema_are_refused_with_its_message(cluster: Cluster, release):
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as bad:
        yaml.safe_dump({"replicaCount": "two", "service": {"port": 80000}}, bad)
        bad.flush()
        source, flags = cluster.chart_source()
        done = cluster.helm(
            "install",
            "refused",
            source,
            *flags,
            "-n",
            release.namespace,
            "-f",
            bad.name,
            check=False,
        )
    assert done.returncode != 0
    assert "values don't meet the specifications of the schema" in done.stderr
    assert "replicaCount" in done.stderr
    assert cluster.helm("status", "refused", "-n", release.namespace, check=False).returncode != 0
