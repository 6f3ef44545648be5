"""A release name as long as Helm allows (53 characters) gives names Kubernetes accepts:
63 characters at most, 52 for the CronJob and the StatefulSet (their controllers append 11
to make Job names and revision labels), all distinct, and every reference still meets its
object."""

import json

import pytest

from tests.chart.conftest import kubectl
from tests.support import helm

LONG = "customer-portal-staging-eu-west-1-blue-green-canary-x"
LIMITS = {"CronJob": 52, "StatefulSet": 52}
MONITORED = {
    "autoscaling": {"enabled": True},
    "metrics": {"serviceMonitor": {"enabled": True}, "prometheusRule": {"enabled": True}},
}


def names(objects) -> list[tuple[str, str]]:
    return [(o["kind"], o["metadata"]["name"]) for o in objects]


@pytest.mark.parametrize("helm_name", helm.HELMS)
def test_names_stay_within_kubernetes_limits(helm_name):
    assert len(LONG) == 53
    objects = helm.render(release=LONG, values={**MONITORED, "httpRoute": {"enabled": True}})
    assert len(set(names(objects))) == len(objects)
    for kind, name in names(objects):
        assert len(name) <= LIMITS.get(kind, 63), (kind, name)
    for obj in objects:
        for value in obj["metadata"].get("labels", {}).values():
            assert len(value) <= 63, (obj["kind"], value)
    mysql = helm.find(objects, "StatefulSet")
    services = {o["metadata"]["name"] for o in helm.find_all(objects, "Service")}
    assert mysql["spec"]["serviceName"] in services
    config = next(o for o in helm.find_all(objects, "ConfigMap") if "DB_HOST" in o["data"])
    assert config["data"]["DB_HOST"] in services
    deploy = helm.find(objects, "Deployment")
    configmaps = {o["metadata"]["name"] for o in helm.find_all(objects, "ConfigMap")}
    for volume in helm.pod_spec(deploy)["volumes"]:
        if "configMap" in volume:
            assert volume["configMap"]["name"] in configmaps


def test_the_api_server_accepts_every_object(live_namespace):
    """A server-side dry run: the API server's own validation (a CronJob's 52 characters
    among it), the monitoring objects against prometheus-operator's CRDs."""
    objects = helm.render(release=LONG, namespace=live_namespace, values=MONITORED)
    done = kubectl(
        "apply",
        "--dry-run=server",
        "-n",
        live_namespace,
        "-f",
        "-",
        input=json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}),
    )
    assert done.stdout.count("(server dry run)") == len(objects), done.stdout
