"""Generated secrets are made once and kept across upgrades: the chart's `lookup` reads the
live Secret. Exercised with `helm template --dry-run=server` against the live cluster, in a
namespace that holds the Secrets of a first render or none."""

import json

import pytest

from tests.chart.conftest import kubectl
from tests.support import helm


def server_render(helm_name: str, namespace: str, **kwargs) -> list[dict]:
    return helm.render(
        helm=helm_name, namespace=namespace, extra_args=["--dry-run=server"], **kwargs
    )


def install_secrets(namespace: str, secrets: list[dict]) -> None:
    """The Secrets as `helm install` leaves them: with the release's ownership metadata."""
    for secret in secrets:
        meta = secret["metadata"]
        meta["namespace"] = namespace
        meta.setdefault("annotations", {}).update(
            {
                "meta.helm.sh/release-name": helm.RELEASE,
                "meta.helm.sh/release-namespace": namespace,
            }
        )
        kubectl("apply", "-f", "-", input=json.dumps(secret))


def secrets(objects) -> dict[str, dict[str, str]]:
    return {s["metadata"]["name"]: helm.secret_data(s) for s in helm.find_all(objects, "Secret")}


@pytest.mark.parametrize("helm_name", helm.HELMS)
def test_generated_secrets_stay_stable_across_upgrades(helm_name, live_namespace):
    first = server_render(helm_name, live_namespace)
    generated = secrets(first)
    assert set(generated) == {helm.RELEASE, f"{helm.RELEASE}-mysql"}
    install_secrets(live_namespace, helm.find_all(first, "Secret"))
    second = server_render(helm_name, live_namespace)
    assert secrets(second) == generated
    # ...and an unchanged upgrade does not roll the pods (same pod templates).
    for kind in ("Deployment", "StatefulSet"):
        assert (
            helm.find(first, kind)["spec"]["template"]
            == helm.find(second, kind)["spec"]["template"]
        )


@pytest.mark.parametrize("helm_name", helm.HELMS)
def test_without_a_live_secret_new_values_are_generated(helm_name, live_namespace):
    """The control: with nothing live, each render generates different random values."""
    a = secrets(server_render(helm_name, live_namespace))
    b = secrets(server_render(helm_name, live_namespace))
    for name in a:
        for key in a[name]:
            assert a[name][key] != b[name][key]
            assert len(a[name][key]) >= 24


def test_a_key_missing_from_the_live_secret_is_generated_the_others_kept(live_namespace):
    first = server_render("helm", live_namespace)
    recorded = helm.find(first, "Secret", helm.RELEASE)
    kept = helm.secret_data(recorded)["admin-password"]
    del recorded["data"]["password-pepper"]
    install_secrets(live_namespace, [recorded])
    data = helm.secret_data(
        helm.find(server_render("helm", live_namespace), "Secret", helm.RELEASE)
    )
    assert data["admin-password"] == kept
    assert data["password-pepper"] and data["password-pepper"] != kept
