"""Generated secrets are made once and kept across upgrades: the chart's `lookup` reads the
live Secret. Exercised with `helm template --dry-run=server` against a stand-in API server
(fake_apiserver.py) that holds the Secrets recorded from a first render."""

import pytest

from tests.chart.fake_apiserver import FakeApiServer
from tests.support import helm


def server_render(helm_name, live, tmp_path, **kwargs):
    with FakeApiServer(live, tmp_path) as server:
        args = [
            "--dry-run=server",
            "--disable-openapi-validation",
            "--kubeconfig",
            str(server.kubeconfig),
        ]
        objects = helm.render(helm=helm_name, extra_args=args, **kwargs)
    return objects, server.requests


def as_installed(secret: dict) -> dict:
    """The Secret as `helm install` leaves it: with the release's ownership metadata."""
    meta = secret["metadata"]
    meta.setdefault("annotations", {}).update(
        {
            "meta.helm.sh/release-name": helm.RELEASE,
            "meta.helm.sh/release-namespace": helm.NAMESPACE,
        }
    )
    return secret


def secrets(objects) -> dict[str, dict[str, str]]:
    return {s["metadata"]["name"]: helm.secret_data(s) for s in helm.find_all(objects, "Secret")}


@pytest.mark.parametrize("helm_name", helm.HELMS)
def test_generated_secrets_stay_stable_across_upgrades(helm_name, tmp_path):
    first, requests = server_render(helm_name, [], tmp_path)
    generated = secrets(first)
    assert set(generated) == {helm.RELEASE, f"{helm.RELEASE}-mysql"}
    # The chart looked the Secrets up (none were there yet).
    assert f"/api/v1/namespaces/{helm.NAMESPACE}/secrets/{helm.RELEASE}" in requests
    recorded = [as_installed(s) for s in helm.find_all(first, "Secret")]
    second, _ = server_render(helm_name, recorded, tmp_path)
    assert secrets(second) == generated
    # ...and an unchanged upgrade does not roll the pods (same pod templates).
    for kind in ("Deployment", "StatefulSet"):
        assert (
            helm.find(first, kind)["spec"]["template"]
            == helm.find(second, kind)["spec"]["template"]
        )


@pytest.mark.parametrize("helm_name", helm.HELMS)
def test_without_a_live_secret_new_values_are_generated(helm_name, tmp_path):
    """The control: with nothing live, each render generates different random values."""
    first, _ = server_render(helm_name, [], tmp_path)
    second, _ = server_render(helm_name, [], tmp_path)
    a, b = secrets(first), secrets(second)
    for name in a:
        for key in a[name]:
            assert a[name][key] != b[name][key]
            assert len(a[name][key]) >= 24


def test_a_key_missing_from_the_live_secret_is_generated_the_others_kept(tmp_path):
    first, _ = server_render("helm", [], tmp_path)
    recorded = as_installed(helm.find(first, "Secret", helm.RELEASE))
    kept = helm.secret_data(recorded)["admin-password"]
    del recorded["data"]["password-pepper"]
    second, _ = server_render("helm", [recorded], tmp_path)
    data = helm.secret_data(helm.find(second, "Secret", helm.RELEASE))
    assert data["admin-password"] == kept
    assert data["password-pepper"] and data["password-pepper"] != kept
